package dev.weft.cli;

import dev.weft.comm.CommOp;
import dev.weft.comm.LocalCluster;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import dev.weft.decoder.Activations;
import dev.weft.decoder.Decoder;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.tp.TensorParallel;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.StepMetrics;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench tp}: (1) tensor-parallel communication per layer per micro-batch, measured as the
 * difference between models of L+1 and L layers (so embedding and loss traffic cancel), against the
 * analytical volume: two all-reduces of B T C floats forward and two backward, each moving 2 (t-1)/t of the
 * data per rank (a ring's reduce-scatter and all-gather halves) — twice the issue's 4 B T C (t-1)/t x 4
 * bytes, which counts one (t-1)/t per all-reduce; both are printed; (2) the step time of a preset at
 * tp = 2 with one compute thread per rank against one device with two threads, same machine, same run.
 */
@Command(name = "tp", mixinStandardHelpOptions = true,
    description = "Tensor-parallel communication volume per layer against theory, and tp=2 overhead against one device.")
public final class TpBenchCommand implements Callable<Integer> {
  @Option(names = "--model", defaultValue = "mini", description = "Preset for the overhead run (default ${DEFAULT-VALUE}).")
  String preset;

  @Option(names = "--batch", defaultValue = "8", description = "Sequences per step (default ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--steps", defaultValue = "5", description = "Steps per run; the first is not counted (default ${DEFAULT-VALUE}).")
  int steps;

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    ModelSpec mc = Families.preset(preset);
    out.println("communication per layer per micro-batch (local backend; bytes a rank receives, summed over ops):");
    for (int t : new int[] {2, 4}) {
      int B = 2, T = 64, C = 128;
      long one = tpBytes(new GPT2Config(1, C, 4, T, 256).spec(), B, T, t);
      long two = tpBytes(new GPT2Config(2, C, 4, T, 256).spec(), B, T, t);
      long measured = two - one;
      double issue = 4.0 * B * T * C * (t - 1) / t * 4;
      double ring = 2 * issue;
      out.printf(Locale.ROOT, "  tp=%d B=%d T=%d C=%d: measured %,d bytes; analytical 4 all-reduces x 2 (t-1)/t x B T C x 4 = "
          + "%,.0f bytes, ratio %.3f (target within 5%%: %s); the issue's 4 B T C (t-1)/t x 4 = %,.0f counts one (t-1)/t per "
          + "all-reduce (its reduce-scatter half): ratio %.3f%n", t, B, T, C, measured, ring, measured / ring,
          Math.abs(measured / ring - 1) <= 0.05 ? "met" : "NOT met", issue, measured / issue);
    }
    double single = stepMs(mc, Parallelism.SINGLE, 2);
    double tp2 = stepMs(mc, Parallelism.builder().tp(2).build(), 1);
    out.printf(Locale.ROOT, "overhead: %s batch %d: one device, 2 threads %.1f ms; tp=2, 1 thread per rank %.1f ms; "
        + "ratio %.3f (target <= 1.15: %s)%n", preset, batch, single, tp2, tp2 / single, tp2 / single <= 1.15 ? "met" : "NOT met");
    return 0;
  }

  /** Bytes one rank received through the TP group for one forward + backward. */
  static long tpBytes(ModelSpec c, int B, int T, int t) throws Exception {
    AtomicLong bytes = new AtomicLong();
    int[] tokens = new int[B * (T + 1)];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < tokens.length; i++) tokens[i] = r.nextInt(c.vocab());
    LocalCluster.run(t, Duration.ofSeconds(60), be -> {
      ParallelLayout mesh = ParallelLayout.of(1, 1, 1, t, t);
      TensorParallel tp = new TensorParallel(be.group(mesh.groupRanks(be.rank(), Axis.TP)), false);
      ParameterLayout layout = new ParameterLayout(c, t, tp.rank());
      DeviceMemory mem = DeviceMemory.unlimited("device " + be.rank());
      try (Compute cx = new Compute(1, Gemm.defaultGemm()); Decoder m = new Decoder(layout, cx, mem, new dev.weft.model.FlatWeights(layout, mem), tp,
               dev.weft.parallel.cp.ContextParallel.NONE);
           Activations act = m.newActivations(B, T)) {
        dev.weft.model.Initializer.initialize(layout, 1, m.params());
        tp.group().stats().reset();
        m.forward(act, tokens, 0, 1f / (B * T));
        m.backward(act);
        long b = 0;
        for (CommOp op : CommOp.values()) b += tp.group().stats().get(op).bytes();
        if (be.rank() == 0) bytes.set(b);
      }
    });
    return bytes.get();
  }

  private double stepMs(ModelSpec mc, Parallelism p, int threads) {
    TrainConfig cfg = TrainConfig.builder(mc).steps(Math.max(2, steps)).batch(batch).lr(1e-3).warmup(0).seed(1)
        .evalEvery(0).evalBatches(0).threads(threads).parallel(p).build().validate();
    Trainer.Result r = new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).run();
    double[] ms = r.steps().subList(1, r.steps().size()).stream().mapToDouble(StepMetrics::stepMs).sorted().toArray();
    return ms[ms.length / 2];
  }
}
