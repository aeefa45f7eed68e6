package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;

/**
 * Shared checks for {@link Bf16Gemm} implementations. A {@link Case} is one seeded random problem
 * {@code C[m,n] = op(A) op(B) + beta C} with random offsets, leading dimensions padded by more than a
 * vector width, sentinels around every operand, and each input either bf16 or fp32 (fp32 values are
 * random floats, almost none of them exact in bf16).
 *
 * <p>Reference: float64 sums of the bf16-ROUNDED inputs, {@code ref = sum_p ~a_ip ~b_pj + beta c_ij}.
 *
 * <p>Error bound: a bf16 number has an 8-bit significand, so each product {@code ~a ~b} is exact in fp32
 * (16 significant bits); the only roundings are the fp32 additions of the k products and of beta c (and
 * the rounding of beta c itself). Whatever the order or blocking of those additions (and whether they are
 * fused, as in FMA or VDPBF16PS), each partial sum is at most {@code S = sum_p |~a ~b| + |beta c|} in
 * magnitude and rounds with relative error u = 2^-24, so {@code |C - ref| <= (k + 2) u S} (Higham,
 * Accuracy and Stability, 3.1, to first order). Native bf16 instructions flush subnormals to zero; the
 * inputs here are in [-1, 1] with no subnormal products, so that does not enter.
 *
 * <p>Why that bound catches wrong paths: if an fp32 input were NOT rounded to bf16, each term would move
 * by about 2^-9 |a b| in a random direction, about 2^-9 sqrt(k) |ab| per element against a bound of
 * about k^2 2^-24 |ab|: 30x larger than the bound at k = 100 and still over it at k = 300 (the largest k
 * used with fp32 inputs). {@code Bf16GemmContract} checks that such results are rejected. A transposed
 * or shifted operand, or a sentinel read from the padding (1e4 in bf16), misses by orders of magnitude.
 */
final class Bf16GemmConformance {
  static final double U = 0x1p-24;
  static final float C_SENTINEL = -12345.5f;
  /** Padding around A and B: a large value, so reading it ruins the result. */
  static final float PAD = 1e4f;

  /** Which array type holds an input. */
  enum Kind { BF16, FP32 }

  /** Shapes (m, n, k): tiny, vector-width misses, and more than one cache block of the Java kernel. */
  static final int[][] SHAPES = {
      {1, 1, 1}, {1, 17, 3}, {3, 1, 33}, {17, 33, 3}, {33, 17, 100}, {100, 33, 17}, {5, 300, 40},
      {37, 70, 300}, {129, 40, 250}, {3, 700, 20}, {70, 65, 90}};

  private Bf16GemmConformance() {}

  /** One problem: inputs as the kernel sees them, their bf16-rounded values, and C before the call. */
  static final class Case {
    final boolean transA, transB;
    final int m, n, k, aOff, lda, bOff, ldb, cOff, ldc;
    final float beta;
    final Kind kindA, kindB;
    final float[] aValues, bValues;      // the inputs' values (fp32; exact in bf16 when the kind is BF16)
    final float[] aRounded, bRounded;    // the same rounded to bf16
    final Bf16Gemm.Operand a, b;
    final float[] c0;

    Case(boolean transA, boolean transB, int m, int n, int k, float beta, Kind kindA, Kind kindB, long seed) {
      Random rnd = new Random(seed);
      this.transA = transA;
      this.transB = transB;
      this.m = m;
      this.n = n;
      this.k = k;
      this.beta = beta;
      this.kindA = kindA;
      this.kindB = kindB;
      int aCols = transA ? m : k, bCols = transB ? k : n;
      lda = aCols + 17 + rnd.nextInt(5);
      ldb = bCols + 17 + rnd.nextInt(5);
      ldc = n + 17 + rnd.nextInt(5);
      aOff = rnd.nextInt(9);
      bOff = rnd.nextInt(9);
      cOff = rnd.nextInt(9);
      aValues = values(aOff + (transA ? k : m) * lda + 5, aOff, transA ? k : m, aCols, lda, kindA, rnd);
      bValues = values(bOff + (transB ? n : k) * ldb + 5, bOff, transB ? n : k, bCols, ldb, kindB, rnd);
      aRounded = rounded(aValues);
      bRounded = rounded(bValues);
      a = operand(aValues, aOff, lda, kindA);
      b = operand(bValues, bOff, ldb, kindB);
      c0 = new float[cOff + m * ldc + 5];
      Arrays.fill(c0, C_SENTINEL);
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) c0[cOff + i * ldc + j] = beta == 0f ? Float.NaN : rnd.nextFloat() * 2 - 1;
      }
    }

    /** Runs {@code gemm} on a fresh copy of C and returns it. */
    float[] run(Bf16Gemm gemm, Compute cx) {
      float[] c = c0.clone();
      gemm.gemm(cx, transA, transB, m, n, k, a, b, beta, c, cOff, ldc);
      return c;
    }

    /** C as a float64 product of the given input values (rounded or not), stored back as floats. */
    float[] exactProduct(float[] av, float[] bv) {
      float[] c = c0.clone();
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) c[cOff + i * ldc + j] = (float) reference(av, bv, i, j)[0];
      }
      return c;
    }

    /** {sum_p x y + beta c, sum_p |x y| + |beta c|} in float64 for element (i, j). */
    double[] reference(float[] av, float[] bv, int i, int j) {
      double sum = 0, abs = 0;
      for (int p = 0; p < k; p++) {
        double x = transA ? av[aOff + p * lda + i] : av[aOff + i * lda + p];
        double y = transB ? bv[bOff + j * ldb + p] : bv[bOff + p * ldb + j];
        sum += x * y;
        abs += Math.abs(x * y);
      }
      if (beta != 0f) {
        double bc = (double) beta * c0[cOff + i * ldc + j];
        sum += bc;
        abs += Math.abs(bc);
      }
      return new double[] {sum, abs};
    }

    /**
     * The largest |C - ref| / ((k + 2) u S) over the elements of C (the result passes when <= 1), or
     * infinity when an element outside C's m x n region was written.
     */
    double worstViolation(float[] c) {
      double worst = 0;
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
          double[] ref = reference(aRounded, bRounded, i, j);
          double tol = (k + 2) * U * ref[1] + 1e-37;
          double err = Math.abs(c[cOff + i * ldc + j] - ref[0]);
          worst = Math.max(worst, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / tol);
        }
      }
      for (int x = 0; x < c.length; x++) {
        int rel = x - cOff;
        boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
        if (!inside && c[x] != C_SENTINEL) return Double.POSITIVE_INFINITY;
      }
      return worst;
    }

    @Override
    public String toString() {
      return String.format("%s%s m=%d n=%d k=%d beta=%s A=%s B=%s offs=%d/%d/%d ld=%d/%d/%d",
          transA ? "T" : "N", transB ? "T" : "N", m, n, k, beta, kindA, kindB, aOff, bOff, cOff, lda, ldb, ldc);
    }
  }

  /** Runs one seeded case on {@code gemm} and asserts the bound and that nothing outside C was written. */
  static void check(Bf16Gemm gemm, Compute cx, boolean transA, boolean transB, int m, int n, int k, float beta,
                    Kind kindA, Kind kindB, long seed) {
    Case c = new Case(transA, transB, m, n, k, beta, kindA, kindB, seed);
    double worst = c.worstViolation(c.run(gemm, cx));
    assertThat(worst).as("%s %s threads=%d: worst |C - ref| / bound (infinite: wrote outside C)",
        gemm.name(), c, cx.threads()).isLessThanOrEqualTo(1.0);
  }

  /** Random values in [-1, 1] in the stored region, PAD elsewhere; exact in bf16 when kind is BF16. */
  private static float[] values(int len, int off, int rows, int cols, int ld, Kind kind, Random rnd) {
    float[] x = new float[len];
    Arrays.fill(x, PAD);
    for (int r = 0; r < rows; r++) {
      for (int col = 0; col < cols; col++) {
        float v = rnd.nextFloat() * 2 - 1;
        x[off + r * ld + col] = kind == Kind.BF16 ? Bf16.round(v) : v;
      }
    }
    return x;
  }

  private static float[] rounded(float[] x) {
    float[] r = new float[x.length];
    for (int i = 0; i < x.length; i++) r[i] = Bf16.round(x[i]);
    return r;
  }

  private static Bf16Gemm.Operand operand(float[] values, int off, int ld, Kind kind) {
    if (kind == Kind.FP32) return Bf16Gemm.Operand.fp32(values.clone(), off, ld);
    short[] h = new short[values.length];
    for (int i = 0; i < h.length; i++) h[i] = Bf16.fromFloat(values[i]);
    return Bf16Gemm.Operand.bf16(h, off, ld);
  }
}
