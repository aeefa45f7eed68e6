package dev.weft.plan;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.train.StepMetrics;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import dev.weft.tensor.DeviceMemory;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The planner against Weft's own runtime on this machine: a fixed set of layouts of the {@code micro}
 * and {@code mini} presets covering dp, tp (with and without sp), pp (GPipe, 1F1B, interleaved), cp
 * (ring and all-to-all), every ZeRO stage, hybrids and full recomputation, each trained for a few steps on the local
 * backend ({@code new Trainer(cfg, quiet).run()}). For each: predicted peak memory of device 0
 * ({@link MemoryModel#stage} at stage 0 with the runtime activation model) vs {@link Trainer.Result#peakBytes},
 * and predicted step time ({@link TimeModel} on {@link LocalMachine#cluster} for the layout's world size)
 * vs the median step time after the first step. Errors are (predicted - measured) / measured.
 */
public final class RuntimeComparison {
  private RuntimeComparison() {
  }

  /** One layout of one model with its global batch. */
  public record Case(String preset, ModelSpec model, int batch, Layout layout) {
    /** A layout of a Weft model preset. */
    public Case(String preset, int batch, Layout layout) {
      this(preset, Families.preset(preset), batch, layout);
    }

    /** A layout of any model shape. */
    public Case(ModelSpec model, int batch, Layout layout) {
      this("custom", model, batch, layout);
    }

    public Job job() {
      return new Job(model(), batch, Precision.FP32);
    }

    /** The runtime's configuration of this case: local backend, threads 0 (cores / ranks), vector GEMM. */
    public TrainConfig trainConfig(int steps, Path data) {
      return TrainConfig.builder(model()).steps(steps).batch(batch).microBatch(layout.microBatch()).lr(1e-3).warmup(0)
          .seed(1).evalEvery(0).evalBatches(0).data(data).parallel(parallelism(layout)).build();
    }

    public String describe() {
      return preset + " B=" + batch + " " + layout;
    }
  }

  /** The runtime's layout for a planner layout (schedule and CP method names as TrainConfig takes them). */
  public static Parallelism parallelism(Layout l) {
    String schedule = switch (l.schedule()) {
      case NONE, ONE_F_ONE_B -> "1f1b";
      case GPIPE -> "gpipe";
      case INTERLEAVED -> "interleaved";
      case ZB_H1 -> "zb";
    };
    int v = l.schedule() == Schedule.INTERLEAVED ? l.virtualStages() : 1;
    String cp = l.cpAlgorithm() == CpAlgorithm.ALL_TO_ALL ? "alltoall" : "ring";
    return Parallelism.builder().dp(l.dp()).tp(l.tp()).pp(l.pp()).cp(l.cp()).sp(l.sp() && l.tp() > 1).zero(l.zero())
        .schedule(schedule).virtualStages(v).cpMethod(cp).recompute(l.recompute() == Recompute.FULL).build();
  }

  /** The planner's layout for a runtime layout with {@code microBatch} sequences per micro-batch (the inverse of {@link #parallelism}). */
  public static Layout layout(Parallelism p, int microBatch) {
    Schedule s = p.pp() == 1 ? Schedule.NONE : switch (p.schedule()) {
      case NAIVE, GPIPE -> Schedule.GPIPE;
      case ONE_F_ONE_B -> Schedule.ONE_F_ONE_B;
      case INTERLEAVED -> Schedule.INTERLEAVED;
      case ZERO_BUBBLE -> Schedule.ZB_H1;
    };
    CpAlgorithm ca = p.cpMethod() == dev.weft.parallel.cp.ContextParallel.Method.ALLTOALL ? CpAlgorithm.ALL_TO_ALL
        : CpAlgorithm.RING;
    return new Layout(p.dp(), p.tp(), p.pp(), p.cp(), p.zero(), p.sp(), microBatch, s, Math.max(1, p.virtualStages()),
        p.recompute() ? Recompute.FULL : Recompute.NONE, ca);
  }

  private static Layout lay(int dp, int tp, int pp, int cp, int zero, boolean sp, int mb, Schedule s, int v,
                            CpAlgorithm ca) {
    return new Layout(dp, tp, pp, cp, zero, sp, mb, s, v, Recompute.NONE, ca);
  }

  /** As {@link #lay}, with full activation recomputation. */
  private static Layout recomputed(int dp, int tp, int pp, int mb, Schedule s) {
    return new Layout(dp, tp, pp, 1, 0, false, mb, s, 1, Recompute.FULL, CpAlgorithm.RING);
  }

  private static final CpAlgorithm RING = CpAlgorithm.RING;

  /** The layouts of {@code weft bench plan}. */
  public static List<Case> cases() {
    Schedule n = Schedule.NONE;
    return List.of(
        new Case("micro", 4, lay(1, 1, 1, 1, 0, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(2, 1, 1, 1, 0, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(2, 1, 1, 1, 1, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(2, 1, 1, 1, 2, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(2, 1, 1, 1, 3, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(1, 2, 1, 1, 0, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(1, 2, 1, 1, 0, true, 2, n, 1, RING)),
        new Case("micro", 4, lay(1, 1, 1, 2, 0, false, 2, n, 1, RING)),
        new Case("micro", 4, lay(1, 1, 1, 2, 1, false, 2, n, 1, CpAlgorithm.ALL_TO_ALL)),
        new Case("micro", 8, lay(1, 1, 2, 1, 0, false, 2, Schedule.ONE_F_ONE_B, 1, RING)),
        new Case("micro", 8, lay(1, 1, 2, 1, 0, false, 2, Schedule.GPIPE, 1, RING)),
        new Case("micro", 8, lay(1, 1, 2, 1, 0, false, 2, Schedule.INTERLEAVED, 2, RING)),
        new Case("micro", 4, lay(2, 2, 1, 1, 1, true, 2, n, 1, RING)),
        new Case("micro", 8, lay(2, 1, 2, 1, 1, false, 2, Schedule.ONE_F_ONE_B, 1, RING)),
        new Case("micro", 4, lay(1, 2, 1, 2, 0, false, 2, n, 1, RING)),
        new Case("mini", 2, lay(1, 1, 1, 1, 0, false, 1, n, 1, RING)),
        new Case("mini", 2, lay(2, 1, 1, 1, 2, false, 1, n, 1, RING)),
        new Case("mini", 2, lay(1, 2, 1, 1, 0, true, 1, n, 1, RING)),
        new Case("mini", 4, lay(1, 1, 2, 1, 0, false, 1, Schedule.ONE_F_ONE_B, 1, RING)),
        new Case("mini", 2, lay(1, 1, 1, 2, 0, false, 1, n, 1, RING)),
        new Case("micro", 8, lay(2, 1, 2, 1, 2, false, 2, Schedule.GPIPE, 1, RING)),
        new Case("micro", 8, lay(2, 1, 2, 1, 3, false, 2, Schedule.ONE_F_ONE_B, 1, RING)),
        new Case("micro", 4, recomputed(1, 1, 1, 2, n)),
        new Case("micro", 8, recomputed(1, 1, 2, 2, Schedule.ONE_F_ONE_B)),
        new Case("mini", 2, recomputed(1, 1, 1, 1, n)));
  }

  /** Predicted bytes of device 0 (pipeline stage 0), by the runtime activation model. */
  public static MemoryModel.Breakdown predictedMemory(Case c) {
    return MemoryModel.stage(c.job(), c.layout(), MemoryModel.ActivationModel.WEFT_RUNTIME, 0);
  }

  /** Predicted step time on this machine's local backend. */
  public static TimeModel.Breakdown predictedTime(Case c, LocalMachine machine) {
    return TimeModel.estimate(c.job(), c.layout(), machine.cluster(c.layout().devices()), true);
  }

  /** One compared layout. */
  public record Row(Case c, long predictedBytes, long measuredBytes, double predictedMs, double measuredMs,
                    double[] stepMs) {
    public double memoryError() {
      return (predictedBytes - measuredBytes) / (double) measuredBytes;
    }

    public double timeError() {
      return (predictedMs - measuredMs) / measuredMs;
    }
  }

  /** Trains {@code c} for {@code steps} steps and compares (steps >= 2; the first is not timed). */
  public static Row run(Case c, LocalMachine machine, int steps, Path data) {
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    Trainer.Result r = new Trainer(c.trainConfig(Math.max(2, steps), data), quiet).run();
    List<StepMetrics> s = r.steps();
    double[] ms = s.subList(1, s.size()).stream().mapToDouble(StepMetrics::stepMs).toArray();
    double[] sorted = ms.clone();
    Arrays.sort(sorted);
    double median = sorted.length % 2 == 1 ? sorted[sorted.length / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    return new Row(c, predictedMemory(c).total(), r.peakBytes(), predictedTime(c, machine).step() * 1e3, median, ms);
  }

  /**
   * Trains {@code micro} on one rank for 12 steps and discards the result, so that the JIT has compiled the
   * kernels before anything is timed (without it the first layouts measured run 2-3x slow).
   */
  public static void warmUp(Path data) {
    Case c = new Case("micro", 4, Layout.single(2));
    new Trainer(c.trainConfig(12, data), new PrintStream(OutputStream.nullOutputStream())).run();
  }

  /**
   * A training text for the runs (the corpus does not affect memory or time): 256 KiB of pseudo-words
   * from a fixed seed, written to a temporary file.
   */
  public static Path syntheticCorpus() throws IOException {
    SplittableRandom r = new SplittableRandom(7);
    String[] words = {"the", "weft", "model", "trains", "on", "many", "devices", "while", "data", "flows", "through",
        "layers", "of", "attention", "and", "mlp", "blocks", "with", "gradients", "reduced"};
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 256 * 1024) {
      sb.append(words[r.nextInt(words.length)]).append(r.nextInt(9) == 0 ? ".\n" : " ");
    }
    Path f = Files.createTempFile("weft-plan-bench", ".txt");
    f.toFile().deleteOnExit();
    Files.writeString(f, sb, StandardCharsets.UTF_8);
    return f;
  }

  /** The comparison table with the targets (memory within 10%, step time within 25%). */
  public static String table(List<Row> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-2s %-58s %10s %10s %7s %9s %9s %7s%n", "#", "layout", "mem pred",
        "mem meas", "error", "step pred", "step meas", "error"));
    int i = 1, memOk = 0, timeOk = 0;
    for (Row r : rows) {
      boolean mOk = Math.abs(r.memoryError()) <= 0.10, tOk = Math.abs(r.timeError()) <= 0.25;
      if (mOk) memOk++;
      if (tOk) timeOk++;
      sb.append(String.format(Locale.ROOT, "%-2d %-58s %10s %10s %6.1f%%%s %7.0fms %7.0fms %6.1f%%%s%n", i++,
          shortName(r.c()), Units.bytes(r.predictedBytes()), Units.bytes(r.measuredBytes()), 100 * r.memoryError(),
          mOk ? " " : "!", r.predictedMs(), r.measuredMs(), 100 * r.timeError(), tOk ? " " : "!"));
    }
    sb.append(String.format(Locale.ROOT, "memory within 10%%: %d of %d; step time within 25%%: %d of %d"
        + " (! marks a miss)%n", memOk, rows.size(), timeOk, rows.size()));
    return sb.toString();
  }

  static String shortName(Case c) {
    Layout l = c.layout();
    StringBuilder sb = new StringBuilder(c.preset()).append(" B=").append(c.batch()).append(" mb=").append(l.microBatch());
    if (l.dp() > 1) sb.append(" dp").append(l.dp());
    if (l.tp() > 1) sb.append(" tp").append(l.tp()).append(l.sp() ? "+sp" : "");
    if (l.pp() > 1) {
      sb.append(" pp").append(l.pp()).append(' ').append(l.schedule().cliName());
      if (l.schedule() == Schedule.INTERLEAVED) sb.append(" v").append(l.virtualStages());
    }
    if (l.cp() > 1) sb.append(" cp").append(l.cp()).append(' ').append(l.cpAlgorithm().cliName());
    if (l.dp() * l.cp() > 1) sb.append(" zero").append(l.zero());
    if (l.devices() == 1) sb.append(" single");
    if (l.recompute() != Recompute.NONE) sb.append(" recompute ").append(l.recompute().cliName());
    sb.append(" (").append(l.devices()).append(l.devices() == 1 ? " rank)" : " ranks)");
    return sb.toString();
  }
}
