package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;

/**
 * Shared checks for {@link Gemm} implementations: run a case with random offsets, padded leading
 * dimensions and sentinel-filled padding, compare against {@link ScalarGemm} (double-checked against a
 * float error bound) and verify that nothing outside C's m x n region was written.
 *
 * <p>Tolerance: with float accumulation of k products, the forward error of each implementation is at
 * most gamma_k * (sum_p |a_ip| |b_pj| + |beta c_ij|), gamma_k ~ k u, u = 2^-24 (Higham, Accuracy and
 * Stability, 3.1; FMA and blocking only change the order of the same sums). Two implementations can
 * differ by twice that, so we allow 2 (k + 2) u times the absolute-value sum. A wrong, missing or
 * duplicated term costs about (sum |a||b|) / k, far above the bound for every k tested (<= 600).
 */
final class GemmConformance {
  static final float SENTINEL = -12345.5f;
  static final float U = 0x1p-24f;

  private GemmConformance() {}

  /** Shapes (m, n, k): tiny (the simple path), vector-width misses, and beyond the cache blocks. */
  static final int[][] SHAPES = {
      {1, 1, 1}, {1, 17, 3}, {3, 1, 33}, {17, 33, 3}, {33, 17, 100}, {100, 33, 17}, {5, 300, 40},
      {37, 70, 300}, {300, 517, 129}, {129, 40, 600}, {3, 4200, 20}, {260, 33, 7}};

  static void check(Gemm gemm, Compute cx, boolean transA, boolean transB, int m, int n, int k, float beta,
                    long seed) {
    Random rnd = new Random(seed);
    int aRows = transA ? k : m, aCols = transA ? m : k;
    int bRows = transB ? n : k, bCols = transB ? k : n;
    int lda = aCols + rnd.nextInt(3), ldb = bCols + rnd.nextInt(3), ldc = n + rnd.nextInt(3);
    int aOff = rnd.nextInt(5), bOff = rnd.nextInt(5), cOff = rnd.nextInt(5);
    float[] a = filled(aOff + aRows * lda + 3, rnd);
    float[] b = filled(bOff + bRows * ldb + 3, rnd);
    float[] c0 = new float[cOff + m * ldc + 3];
    java.util.Arrays.fill(c0, SENTINEL);
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) c0[cOff + i * ldc + j] = beta == 0f ? Float.NaN : rnd.nextFloat() * 2 - 1;
    }
    float[] c = c0.clone();
    float[] ref = c0.clone();
    if (beta == 0f) {  // the reference must not see the NaNs either
      for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) ref[cOff + i * ldc + j] = 0f;
    }
    new ScalarGemm().gemm(Compute.single(), transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb,
        beta == 0f ? 1f : beta, ref, cOff, ldc);
    gemm.gemm(cx, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);

    String what = String.format("%s %s%s m=%d n=%d k=%d beta=%s threads=%d offs=%d/%d/%d ld=%d/%d/%d",
        gemm.name(), transA ? "T" : "N", transB ? "T" : "N", m, n, k, beta, cx.threads(),
        aOff, bOff, cOff, lda, ldb, ldc);
    for (int i = 0; i < m; i++) {
      for (int j = 0; j < n; j++) {
        double absSum = beta == 0f ? 0 : Math.abs(beta * c0[cOff + i * ldc + j]);
        for (int p = 0; p < k; p++) {
          float x = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
          float y = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
          absSum += Math.abs((double) x * y);
        }
        double tol = 2.0 * (k + 2) * U * absSum + 1e-30;
        float got = c[cOff + i * ldc + j], want = ref[cOff + i * ldc + j];
        assertThat(Math.abs((double) got - want)).as("%s at C[%d][%d]: got %s, want %s", what, i, j, got, want)
            .isLessThanOrEqualTo(tol);
      }
    }
    for (int x = 0; x < c.length; x++) {
      int rel = x - cOff;
      boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
      if (!inside) assertThat(c[x]).as("%s: element %d outside C was written", what, x).isEqualTo(SENTINEL);
    }
  }

  private static float[] filled(int len, Random rnd) {
    float[] x = new float[len];
    for (int i = 0; i < len; i++) x[i] = rnd.nextFloat() * 2 - 1;
    return x;
  }
}
