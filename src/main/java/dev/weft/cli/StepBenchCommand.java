package dev.weft.cli;

import dev.weft.bench.MatmulPeak;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.StepMetrics;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench step}: full training steps of a preset (default mini, batch 8 x 256), measured against
 * the machine's fp32 matmul peak measured in the same run (MFU), and the device's peak memory against the
 * sum computed by hand (parameters + gradients + two AdamW moments + activations).
 */
@Command(name = "step", mixinStandardHelpOptions = true,
    description = "Training-step throughput (MFU) and memory of a preset against same-run baselines.")
public final class StepBenchCommand implements Callable<Integer> {
  @Option(names = "--model", defaultValue = "mini", description = "Preset (default ${DEFAULT-VALUE}).")
  String preset;

  @Option(names = "--batch", defaultValue = "8", description = "Sequences per step (default ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--steps", defaultValue = "6", description = "Steps; the first is not timed (default ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--threads", description = "Compute threads (default: the machine's cores).")
  Integer threads;

  @Option(names = "--matmul", defaultValue = "vector", description = "vector, scalar or openblas (default ${DEFAULT-VALUE}).")
  String matmul;

  @Override
  public Integer call() {
    PrintStream out = System.out;
    int th = threads != null ? threads : Runtime.getRuntime().availableProcessors();
    ModelSpec mc = Families.preset(preset);
    TrainConfig cfg = TrainConfig.builder(mc).steps(Math.max(2, steps)).batch(batch).lr(1e-3).warmup(0).seed(1)
        .evalEvery(0).evalBatches(0).threads(th).gemm(matmul).build().validate();
    Trainer.Result r = new Trainer(cfg, new PrintStream(java.io.OutputStream.nullOutputStream())).run();
    List<StepMetrics> s = r.steps();
    double[] ms = s.subList(1, s.size()).stream().mapToDouble(StepMetrics::stepMs).sorted().toArray();
    double median = ms[ms.length / 2];
    double gflops = r.flopsPerStep() / (median / 1e3) / 1e9;
    MatmulPeak.Result peak = MatmulPeak.measure(th);
    long act = r.activationBytes();
    long sum = r.stateBytes() + act;
    out.printf(Locale.ROOT, "model        %s, batch %d x %d, %s, %s matmul%n", mc, batch, mc.context(), dev.weft.Counts.of(th, "thread"), matmul);
    out.printf(Locale.ROOT, "step time    median %.1f ms over %s (all: %s)%n", median, dev.weft.Counts.of(ms.length, "step"), Arrays.toString(
        Arrays.stream(ms).map(x -> Math.round(x)).toArray()));
    out.printf(Locale.ROOT, "throughput   %,.0f tokens/s, %.1f GFLOP/s of model FLOPs (%.3g GFLOP per step)%n",
        batch * mc.context() / (median / 1e3), gflops, r.flopsPerStep() / 1e9);
    out.printf(Locale.ROOT, "matmul peak  %.1f GFLOP/s (%s, same threads, M=2048 K=768 N=3072)%n", peak.gflops(), peak.impl());
    out.printf(Locale.ROOT, "MFU          %.1f%%  (target >= 50%%: %s)%n", 100 * gflops / peak.gflops(),
        gflops / peak.gflops() >= 0.5 ? "met" : "NOT met");
    out.printf(Locale.ROOT, "memory       measured peak %s; by hand %s = parameters+gradients+AdamW %s + activations %s; "
            + "measured/by hand = %.3f (target within 10%%: %s)%n",
        DeviceMemory.format(r.peakBytes()), DeviceMemory.format(sum), DeviceMemory.format(r.stateBytes()),
        DeviceMemory.format(act), r.peakBytes() / (double) sum,
        Math.abs(r.peakBytes() / (double) sum - 1) <= 0.10 ? "met" : "NOT met");
    return 0;
  }
}
