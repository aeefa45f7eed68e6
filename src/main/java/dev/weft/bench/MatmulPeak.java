package dev.weft.bench;

import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The machine's measured fp32 matrix-multiply throughput, the denominator of MFU: the best of the
 * available GEMMs (the pure-Java vector kernel and OpenBLAS when it loads) on the transformer-shaped
 * product M=2048, K=768, N=3072 with the given threads; median of a few timed calls after a warm-up.
 */
public final class MatmulPeak {
  /** The winning implementation and its GFLOP/s. */
  public record Result(String impl, double gflops) {}

  private MatmulPeak() {}

  public static Result measure(int threads) {
    Result best = null;
    for (String impl : new String[] {"vector", "openblas"}) {
      try {
        double g = gflops(Gemm.byName(impl), threads, 2048, 768, 3072, 3);
        if (best == null || g > best.gflops()) best = new Result(impl, g);
      } catch (RuntimeException | LinkageError e) {
        // OpenBLAS may be unavailable on this platform; the vector kernel always is.
      }
    }
    return best;
  }

  /** Median GFLOP/s of {@code reps} timed NN products m x k times k x n (after one warm-up call). */
  public static double gflops(Gemm gemm, int threads, int m, int k, int n, int reps) {
    float[] a = random(m * k, 1);
    float[] b = random(k * n, 2);
    float[] c = new float[m * n];
    try (Compute cx = new Compute(threads, gemm)) {
      cx.gemm(false, false, m, n, k, a, 0, k, b, 0, n, 0f, c, 0, n);
      double[] t = new double[reps];
      for (int r = 0; r < reps; r++) {
        long t0 = System.nanoTime();
        cx.gemm(false, false, m, n, k, a, 0, k, b, 0, n, 0f, c, 0, n);
        t[r] = (System.nanoTime() - t0) / 1e9;
      }
      Arrays.sort(t);
      return 2.0 * m * n * k / t[reps / 2] / 1e9;
    }
  }

  static float[] random(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
    return x;
  }
}
