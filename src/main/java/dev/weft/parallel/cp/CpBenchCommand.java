package dev.weft.parallel.cp;

import dev.weft.comm.Communicator;
import dev.weft.comm.LocalCluster;
import dev.weft.kernels.Compute;
import dev.weft.kernels.VectorGemm;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench cp}: ring attention forward + backward of one layer on cp ranks of the local backend
 * (threads of this JVM, one compute thread each by default), default the {@code mini} shape B=1, C=384,
 * NH=6 at T=4096 with cp=2. Each rank holds B x T/cp x 3C of qkv; K/V blocks of B x T/cp x 2C floats
 * travel the ring (forward cp-1 hops; backward cp-1 hops of K/V plus cp hops of dK/dV). Prints, per
 * rank, the attention compute time and the time spent waiting for the next K/V block (and, in backward,
 * for the travelling dK/dV) from {@link RingAttention.Stats}, medians over the timed iterations:
 * (1) wait / attention time of the worst rank with the load-balanced layout (target at most 30%);
 * (2) slowest / fastest rank attention time with the balanced layout (target within 15%) and with
 * contiguous chunks (for comparison). On the local backend a send is a memory copy, so the wait is almost
 * all load imbalance and scheduling, not transfer.
 */
@Command(name = "cp", mixinStandardHelpOptions = true,
    description = "Ring attention (context parallelism): K/V wait as a fraction of attention time, and per-rank load balance.")
public final class CpBenchCommand implements Callable<Integer> {
  @Option(names = "--seq", defaultValue = "4096", description = "Sequence length T (default ${DEFAULT-VALUE}).")
  int T;

  @Option(names = "--cp", defaultValue = "2", description = "Context-parallel ranks (default ${DEFAULT-VALUE}).")
  int cp;

  @Option(names = "--batch", defaultValue = "1", description = "Sequences B (default ${DEFAULT-VALUE}).")
  int B;

  @Option(names = "--d-model", defaultValue = "384", description = "Model width C (default ${DEFAULT-VALUE}, mini).")
  int C;

  @Option(names = "--heads", defaultValue = "6", description = "Heads NH (default ${DEFAULT-VALUE}, mini).")
  int NH;

  @Option(names = "--iters", defaultValue = "3", description = "Timed iterations after one warm-up (default ${DEFAULT-VALUE}).")
  int iters;

  @Option(names = "--threads", defaultValue = "1", description = "Compute threads per rank (default ${DEFAULT-VALUE}).")
  int threads;

  /** Per-rank medians over the timed iterations, in ms. */
  public record Result(double[] computeMs, double[] waitMs, long[] tiles) {
    public double worstWaitFraction() {
      double w = 0;
      for (int r = 0; r < computeMs.length; r++) w = Math.max(w, waitMs[r] / computeMs[r]);
      return w;
    }

    public double imbalance() {
      return Arrays.stream(computeMs).max().orElse(0) / Arrays.stream(computeMs).min().orElse(1);
    }
  }

  /** Runs forward + backward of ring attention {@code warmup + iters} times on n local ranks. */
  public static Result measure(int B, int T, int C, int NH, int n, CpLayout.Kind kind, int warmup, int iters,
                               int threads) throws Exception {
    double[][] compute = new double[n][iters], wait = new double[n][iters];
    long[] tiles = new long[n];
    LocalCluster.run(n, Duration.ofSeconds(300), be -> {
      Communicator g = n == 1 ? null : be.world();
      ContextParallel cpx = new ContextParallel(g, ContextParallel.Method.RING);
      int r = cpx.rank();
      int[] pos = CpLayout.positions(T, n, r, kind);
      int Tl = pos.length;
      SplittableRandom rnd = new SplittableRandom(17 + r);
      float[] qkv = new float[B * Tl * 3 * C], dout = new float[B * Tl * C];
      for (int i = 0; i < qkv.length; i++) qkv[i] = (float) rnd.nextGaussian();
      for (int i = 0; i < dout.length; i++) dout[i] = (float) rnd.nextGaussian();
      float[] out = new float[B * Tl * C], lse = new float[B * NH * Tl], dqkv = new float[qkv.length];
      RingAttention ring = new RingAttention();
      try (Compute cx = new Compute(threads, new VectorGemm())) {
        for (int it = 0; it < warmup + iters; it++) {
          if (g != null) g.barrier();
          ring.stats().reset();
          ring.forward(cx, cpx, out, lse, qkv, B, Tl, C, NH, pos);
          ring.backward(cx, cpx, dqkv, dout, qkv, out, lse, B, Tl, C, NH, pos);
          if (it >= warmup) {
            compute[r][it - warmup] = ring.stats().computeNs() / 1e6;
            wait[r][it - warmup] = ring.stats().waitNs() / 1e6;
            tiles[r] = ring.stats().forwardTiles();
          }
        }
      }
    });
    double[] cm = new double[n], wm = new double[n];
    for (int r = 0; r < n; r++) {
      cm[r] = median(compute[r]);
      wm[r] = median(wait[r]);
    }
    return new Result(cm, wm, tiles);
  }

  static double median(double[] a) {
    double[] s = a.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    CpLayout.check(T, cp, CpLayout.Kind.BALANCED);
    out.printf(Locale.ROOT, "ring attention forward+backward, B=%d C=%d NH=%d T=%d, cp=%d on the local backend, %s"
        + " per rank; medians of %s after 1 warm-up%n", B, C, NH, T, cp, dev.weft.Counts.of(threads, "compute thread"),
        dev.weft.Counts.of(iters, "iteration"));
    Result bal = measure(B, T, C, NH, cp, CpLayout.Kind.BALANCED, 1, iters, threads);
    print(out, "balanced layout (chunks i, 2cp-1-i)", bal);
    Result con = measure(B, T, C, NH, cp, CpLayout.Kind.CONTIGUOUS, 1, iters, threads);
    print(out, "contiguous layout (for comparison)", con);
    double wf = bal.worstWaitFraction(), ib = bal.imbalance();
    out.printf(Locale.ROOT, "K/V wait / attention time, worst rank, balanced layout: %.1f%% (target <= 30%%: %s)%n",
        100 * wf, wf <= 0.30 ? "met" : "NOT met");
    out.printf(Locale.ROOT, "load balance, slowest / fastest rank attention time: balanced %.3f (target <= 1.15: %s);"
        + " contiguous %.3f%n", ib, ib <= 1.15 ? "met" : "NOT met", con.imbalance());
    return 0;
  }

  private static void print(PrintStream out, String what, Result r) {
    out.println("  " + what + ":");
    for (int i = 0; i < r.computeMs().length; i++) {
      out.printf(Locale.ROOT, "    rank %d: attention %.1f ms, waiting for K/V (and dK/dV) %.1f ms (%.1f%%), %d forward tiles%n",
          i, r.computeMs()[i], r.waitMs()[i], 100 * r.waitMs()[i] / r.computeMs()[i], r.tiles()[i]);
    }
  }
}
