package dev.weft.cli;

import dev.weft.train.TrainConfig;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The device-layout options shared by commands that run a model on many devices: the degree of each mesh
 * axis, ZeRO, sequence parallelism, the context-parallel attention, the backend and its timeout.
 */
public final class LayoutOptions {
  @Option(names = "--dp", defaultValue = "1", description = "Data-parallel replicas (default ${DEFAULT-VALUE}).")
  int dp;

  @Option(names = "--tp", defaultValue = "1", description = "Tensor-parallel degree: every weight matrix split over this many devices (default ${DEFAULT-VALUE}).")
  int tp;

  @Option(names = "--cp", defaultValue = "1", description = "Context-parallel degree: every sequence split over this many devices (default ${DEFAULT-VALUE}).")
  int cp;

  @Option(names = "--cp-attention", defaultValue = "ring", description = "Attention across the context-parallel group: ring (K/V passed around, load-balanced causal chunks) or alltoall (Ulysses head exchange; heads / tp must divide by cp) (default ${DEFAULT-VALUE}).")
  String cpAttention;

  @Option(names = "--sp", description = "Megatron sequence parallelism inside the tensor-parallel group (needs --tp > 1).")
  boolean sp;

  @Option(names = "--zero", defaultValue = "0", description = "ZeRO stage on the data-parallel axis: 0, 1 (optimizer state sharded), 2 (+ gradients), 3 (+ parameters) (default ${DEFAULT-VALUE}).")
  int zero;

  @Option(names = "--devices", defaultValue = "local", description = "local: ranks are threads of this process (default); tcp: this process is one rank of a job started by 'weft launch'.")
  String devices;

  @Option(names = "--comm-timeout", defaultValue = "300", paramLabel = "SECONDS", description = "Bound on every communication wait; a dead or missing peer fails the run after it (default ${DEFAULT-VALUE}).")
  int commTimeout;

  /** The layout with a pipeline of {@code pp} stages run by {@code schedule} with {@code virtualStages} chunks per rank. */
  TrainConfig.Parallelism parallelism(int pp, String schedule, int virtualStages) {
    return parallelism(pp, schedule, virtualStages, "count");
  }

  /** As above, the pipeline's layers cut by {@code stageSplit} (see {@link TrainConfig.Parallelism#stagePlan}). */
  TrainConfig.Parallelism parallelism(int pp, String schedule, int virtualStages, String stageSplit) {
    return new TrainConfig.Parallelism(dp, tp, pp, cp, sp, zero, schedule.toLowerCase(Locale.ROOT), virtualStages,
        cpAttention.toLowerCase(Locale.ROOT), devices.toLowerCase(Locale.ROOT), commTimeout, stageSplit);
  }
}
