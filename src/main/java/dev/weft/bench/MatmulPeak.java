package dev.weft.bench;

import dev.weft.kernels.Gemm;

/**
 * The machine's measured fp32 matrix-multiply throughput, the denominator of MFU: the best of the
 * available GEMMs (the pure-Java vector kernel and OpenBLAS when it loads) on the transformer-shaped
 * product M=2048, K=768, N=3072 with the given threads, timed by {@link GemmBenchCommand#measureGflops}.
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

  /** Median GFLOP/s of {@code reps} timed NN products m x k times k x n (after a warm-up). */
  public static double gflops(Gemm gemm, int threads, int m, int k, int n, int reps) {
    return GemmBenchCommand.measureGflops(gemm, threads, new GemmBenchCommand.Shape("peak", false, false, m, n, k, 0f),
        0, reps);
  }
}
