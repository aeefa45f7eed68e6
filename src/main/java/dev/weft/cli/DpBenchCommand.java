package dev.weft.cli;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.StepMetrics;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench dp}: data-parallel training of a preset (default mini) on the local backend, measuring
 * (1) how much of the data-parallel communication is exposed, i.e. the part of the collectives' run time a
 * rank spends blocked waiting for them (mostly the gradient buckets after its last backward kernel),
 * against the total time they ran (both per rank, the metrics' sums over ranks divided by dp), and (2) the step
 * time at ZeRO-3 against ZeRO-0 on the same model, layout and machine, in the same run.
 */
@Command(name = "dp", mixinStandardHelpOptions = true,
    description = "Data-parallel overlap (exposed / total gradient communication) and ZeRO-3 vs ZeRO-0 step time.")
public final class DpBenchCommand implements Callable<Integer> {
  @Option(names = "--model", defaultValue = "mini", description = "Preset (default ${DEFAULT-VALUE}).")
  String preset;

  @Option(names = "--dp", defaultValue = "2", description = "Replicas (default ${DEFAULT-VALUE}).")
  int dp;

  @Option(names = "--batch", defaultValue = "8", description = "Global batch in sequences (default ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--steps", defaultValue = "8", description = "Steps per run; the first is not counted (default ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--threads", defaultValue = "0", description = "Compute threads per rank (default: cores / ranks).")
  int threads;

  @Override
  public Integer call() {
    PrintStream out = System.out;
    ModelSpec mc = Families.preset(preset);
    out.printf(Locale.ROOT, "model %s, dp=%d on the local backend, batch %d x %d%n", mc, dp, batch, mc.context());
    Run z0 = run(mc, 0);
    Run z3 = run(mc, 3);
    for (Run r : new Run[] {z0, z3}) {
      out.printf(Locale.ROOT, "zero=%d  step %.1f ms (median)  gradient comm per rank %.1f ms, exposed %.1f ms = %.0f%%%n",
          r.zero, r.stepMs, r.commMs, r.exposedMs, 100 * r.exposedMs / r.commMs);
    }
    double overlap = z0.exposedMs / z0.commMs;
    out.printf(Locale.ROOT, "overlap (zero=0): exposed / total gradient communication = %.2f (target <= 0.30: %s)%n",
        overlap, overlap <= 0.30 ? "met" : "NOT met");
    double ratio = z3.stepMs / z0.stepMs;
    out.printf(Locale.ROOT, "ZeRO-3 / ZeRO-0 step time = %.2f (target <= 1.30: %s)%n", ratio, ratio <= 1.30 ? "met" : "NOT met");
    return 0;
  }

  record Run(int zero, double stepMs, double commMs, double exposedMs) {}

  private Run run(ModelSpec mc, int zero) {
    TrainConfig cfg = TrainConfig.builder(mc).steps(Math.max(2, steps)).batch(batch).microBatch(batch / dp).lr(1e-3)
        .warmup(0).seed(1).evalEvery(0).evalBatches(0).threads(threads)
        .parallel(Parallelism.builder().dp(dp).zero(zero).build()).build().validate();
    Trainer.Result r = new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).run();
    List<StepMetrics> s = r.steps().subList(1, r.steps().size());
    double[] ms = s.stream().mapToDouble(StepMetrics::stepMs).sorted().toArray();
    double comm = s.stream().mapToDouble(m -> m.commMs() / dp).average().orElse(0);
    double exposed = s.stream().mapToDouble(m -> m.exposedCommMs() / dp).average().orElse(0);
    return new Run(zero, ms[ms.length / 2], comm, exposed);
  }
}
