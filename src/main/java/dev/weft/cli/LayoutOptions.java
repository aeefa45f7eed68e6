package dev.weft.cli;

import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.comm.Devices;
import dev.weft.parallel.pp.StageSplit;
import java.time.Duration;
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

  @Option(names = "--recompute", defaultValue = "none", paramLabel = "none|full", description = "Activation recomputation: none (default), or full: every block keeps only its output and backward runs its forward again (activations about 1/16 per block plus one block's worth, for about a third more compute). Attention here never stores T x T scores (it is blockwise), so Megatron's selective recomputation would have nothing to drop.")
  String recompute;

  /** Whether --recompute asks for full recomputation; a clear error for anything else. */
  boolean recomputeFull() {
    return switch (recompute.toLowerCase(Locale.ROOT)) {
      case "none", "off" -> false;
      case "full" -> true;
      case "selective" -> throw new dev.weft.WeftInputException("--recompute selective: Weft's attention is blockwise and "
          + "never stores the T x T scores that selective recomputation drops, so it would change nothing; use --recompute "
          + "full to keep only each block's output, or none.");
      default -> throw new dev.weft.WeftInputException("--recompute takes none or full, got '" + recompute + "'.");
    };
  }

  /** The layout with the pipeline options {@code pipe} (pp, schedule, virtual stages, stage split). */
  Parallelism parallelism(PipelineOptions pipe) {
    return Parallelism.builder().dp(dp).tp(tp).cp(cp).sp(sp).zero(zero).cpMethod(cpAttention)
        .pp(pipe.pp).schedule(pipe.schedule).virtualStages(pipe.virtualStages).stageSplit(StageSplit.parse(pipe.stageSplit))
        .recompute(recomputeFull()).build();
  }

  Devices devices() {
    return Devices.parse(devices);
  }

  Duration commTimeout() {
    if (commTimeout < 1) throw new dev.weft.WeftInputException("--comm-timeout must be >= 1 second.");
    return Duration.ofSeconds(commTimeout);
  }
}
