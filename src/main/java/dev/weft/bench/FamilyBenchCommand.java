package dev.weft.bench;

import dev.weft.Counts;
import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench families}: training steps of two presets of different model families in the same JVM
 * (default GPT-2 {@code mini} and {@code llama-mini}: 6 layers of 384, 6 heads; Llama with 2 key/value heads and
 * a gated MLP of 1024, as many matrix parameters), interleaved round by round so that load from other processes
 * hits both alike. Per model: the median step over every timed step (the first of each round is not timed),
 * tokens/s, model FLOP/s ({@link Trainer#flopsPerStep}: 6 per matrix parameter per token + 12 L h T attention)
 * and MFU against this machine's matmul peak measured in the same run ({@link MatmulPeak}); then the second
 * model's tokens/s and MFU over the first's. Issue #12's target: MFU within 10% of GPT-2's.
 */
@Command(name = "families", mixinStandardHelpOptions = true,
    description = "Training-step tokens/s and MFU of two model families' presets in the same run (default GPT-2 "
        + "mini vs llama-mini), and their ratio.")
public final class FamilyBenchCommand implements Callable<Integer> {
  @Option(names = "--models", split = ",", defaultValue = "mini,llama-mini",
      description = "Two presets: the baseline, then the one compared (default ${DEFAULT-VALUE}).")
  List<String> models;

  @Option(names = "--batch", defaultValue = "8", description = "Sequences per step (default ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--steps", defaultValue = "4",
      description = "Steps per model per round; the first is not timed (default ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--rounds", defaultValue = "2", description = "Interleaved rounds (default ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--threads", description = "Compute threads (default: the machine's cores).")
  Integer threads;

  @Option(names = "--matmul", defaultValue = "vector", description = "vector, scalar or openblas (default ${DEFAULT-VALUE}).")
  String matmul;

  /** One model's figures: its median step, tokens per step and model FLOPs per step. */
  public record Figures(String name, ModelSpec model, double medianMs, long tokensPerStep, double flopsPerStep, int timedSteps) {
    public double tokensPerSecond() {
      return tokensPerStep / (medianMs / 1e3);
    }

    public double gflops() {
      return flopsPerStep / (medianMs / 1e3) / 1e9;
    }
  }

  @Override
  public Integer call() {
    if (models.size() != 2) {
      throw new WeftInputException("--models takes two presets, the baseline and the one compared (e.g. mini,llama-mini);"
          + " got " + models.size() + ". Presets: " + String.join(", ", Families.presetNames()) + ".");
    }
    if (steps < 2 || rounds < 1 || batch < 1) {
      throw new WeftInputException("--steps must be at least 2 (the first is not timed), --rounds and --batch at least "
          + "1; got --steps " + steps + " --rounds " + rounds + " --batch " + batch + ".");
    }
    int th = threads != null ? threads : Runtime.getRuntime().availableProcessors();
    List<ModelSpec> specs = models.stream().map(Families::preset).toList();
    List<Figures> figures = measure(models, specs, batch, steps, rounds, th, matmul);
    MatmulPeak.Result peak = MatmulPeak.measure(th);
    System.out.print(report(figures, peak, batch, steps, rounds, th, matmul));
    return 0;
  }

  /** Trains each model {@code steps} steps per round, the models alternating, and takes each one's median step. */
  public static List<Figures> measure(List<String> names, List<ModelSpec> specs, int batch, int steps, int rounds, int threads,
                                      String matmul) {
    List<List<Double>> ms = new ArrayList<>();
    for (int i = 0; i < specs.size(); i++) ms.add(new ArrayList<>());
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < specs.size(); i++) {
        TrainConfig cfg = TrainConfig.builder(specs.get(i)).steps(steps).batch(batch).lr(1e-3).warmup(0).seed(1 + r)
            .evalEvery(0).evalBatches(0).threads(threads).gemm(matmul).build().validate();
        List<StepMetrics> s = new Trainer(cfg, quiet).run().steps();
        for (StepMetrics m : s.subList(1, s.size())) ms.get(i).add(m.stepMs());
      }
    }
    List<Figures> out = new ArrayList<>();
    for (int i = 0; i < specs.size(); i++) {
      ModelSpec m = specs.get(i);
      double[] sorted = ms.get(i).stream().mapToDouble(Double::doubleValue).sorted().toArray();
      out.add(new Figures(names.get(i), m, median(sorted), (long) batch * m.context(), Trainer.flopsPerStep(m, batch, m.context()),
          sorted.length));
    }
    return out;
  }

  static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  /** The printed report: a line per model, the peak, and the ratios of the second to the first. */
  public static String report(List<Figures> f, MatmulPeak.Result peak, int batch, int steps, int rounds, int threads,
                              String matmul) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "setup        batch %d, %s, %s matmul, %s of %s per model, interleaved%n",
        batch, Counts.of(threads, "thread"), matmul, Counts.of(rounds, "round"), Counts.of(steps, "step")));
    for (Figures x : f) {
      sb.append(String.format(Locale.ROOT, "%-12s %s%n", x.name(), x.model()));
      sb.append(String.format(Locale.ROOT, "%-12s median %.1f ms/step over %s, %,.0f tokens/s, %.2f GFLOP/s "
              + "(%.3g GFLOP per step), MFU %.1f%%%n", "", x.medianMs(), Counts.of(x.timedSteps(), "step"),
          x.tokensPerSecond(), x.gflops(), x.flopsPerStep() / 1e9, 100 * x.gflops() / peak.gflops()));
    }
    sb.append(String.format(Locale.ROOT, "matmul peak  %.1f GFLOP/s (%s, same threads, M=2048 K=768 N=3072)%n",
        peak.gflops(), peak.impl()));
    Figures a = f.get(0), b = f.get(1);
    double mfuRatio = b.gflops() / a.gflops();
    sb.append(String.format(Locale.ROOT, "ratio        %s / %s: tokens/s %.3f, MFU %.3f (target: MFU within 10%%: %s)%n",
        b.name(), a.name(), b.tokensPerSecond() / a.tokensPerSecond(), mfuRatio,
        Math.abs(mfuRatio - 1) <= 0.10 ? "met" : "NOT met"));
    return sb.toString();
  }

}
