package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.parallel.cp.CpLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Rotary position embeddings are HF Llama's: the forward equals a float64 reference written in HF's
 * rotate-half form ({@code q cos + rotate_half(q) sin}, {@code inv_freq_i = 1 / theta^(2i/D)}, cos and sin
 * repeated over both halves), on the q and k heads of fused q|k|v rows with the v heads untouched, positions
 * r % T or an explicit positions array (a context-parallel rank's load-balanced positions); backward (the
 * inverse rotation) is the transpose of the forward's Jacobian, by finite differences of the reference and by
 * {@code <R x, y> = <x, R^T y>}; 1 and 2 threads are bit-identical.
 */
class RopeTest {
  static final double THETA = 10000;

  /** HF's rotate_half: cat(-x2, x1) of a head vector x = x1 | x2. */
  static double[] rotateHalf(double[] x) {
    int h = x.length / 2;
    double[] y = new double[x.length];
    for (int i = 0; i < h; i++) {
      y[i] = -x[h + i];
      y[h + i] = x[i];
    }
    return y;
  }

  /**
   * Float64 reference on rows [rows, stride]: heads {@code heads} of width D from column col get, at position
   * p, {@code x cos + rotate_half(x) sin} with cos = cat(cos(p f), cos(p f)), f_i = 1 / theta^(2i/D).
   */
  static double[] reference(double[] x, int rows, int stride, int col, int heads, int D, int T, int[] positions) {
    double[] y = x.clone();
    for (int r = 0; r < rows; r++) {
      int p = positions == null ? r % T : positions[r % T];
      double[] row = referenceRow(java.util.Arrays.copyOfRange(x, r * stride, (r + 1) * stride), col, heads, D, p);
      System.arraycopy(row, 0, y, r * stride, stride);
    }
    return y;
  }

  /** One row of the reference at position p. */
  static double[] referenceRow(double[] x, int col, int heads, int D, int p) {
    double[] y = x.clone();
    int half = D / 2;
    double[] cos = new double[D], sin = new double[D];
    for (int i = 0; i < half; i++) {
      double invFreq = 1.0 / Math.pow(THETA, (2.0 * i) / D);
      cos[i] = cos[half + i] = Math.cos(p * invFreq);
      sin[i] = sin[half + i] = Math.sin(p * invFreq);
    }
    for (int h = 0; h < heads; h++) {
      int o = col + h * D;
      double[] v = java.util.Arrays.copyOfRange(x, o, o + D);
      double[] rh = rotateHalf(v);
      for (int d = 0; d < D; d++) y[o + d] = v[d] * cos[d] + rh[d] * sin[d];
    }
    return y;
  }

  /** {q, kv, D, B, T}: MHA and GQA heads, D = 2 up to wider than a vector, B > 1 so rows wrap r % T; T even. */
  static final int[][] SHAPES = {{2, 2, 2, 2, 6}, {4, 2, 6, 2, 16}, {6, 2, 10, 1, 38}, {3, 1, 2 * Vec.L + 4, 3, 10}};

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardRotatesQueryAndKeyHeadsAsHuggingFaceAndLeavesValuesUntouched(int threads) {
    Random rnd = new Random(41);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : SHAPES) {
        int q = s[0], kv = s[1], D = s[2], B = s[3], T = s[4];
        Heads h = new Heads(q, kv, D);
        int W = h.qkvWidth(), rows = B * T;
        Rope rope = new Rope(D, 4 * T, THETA);
        for (int[] positions : new int[][] {null, balancedPositions(T), farPositions(T)}) {
          float[] x = randn(rnd, rows * W, 1.0);
          float[] y = x.clone();
          rope.apply(cx, y, rows, W, 0, q + kv, T, positions, false);
          double[] want = reference(toDouble(x), rows, W, 0, q + kv, D, T, positions);
          // cos and sin are rounded to float once, then two products and a sum: a few ulps, ~3e-7 relative;
          // 2e-6 of (|e| + rms(e)) leaves margin. A wrong sign, pairing (i, i+1) instead of (i, i+D/2), or a
          // frequency exponent i/D instead of 2i/D is O(1) off at the positions used.
          String what = "q=" + q + " kv=" + kv + " D=" + D + " B=" + B + " T=" + T
              + (positions == null ? " r%T" : " positions");
          assertClose("rotated " + what, y, want, 2e-6);
          // the v heads (columns [(q + kv) D, W)) are exactly as they were
          for (int r = 0; r < rows; r++) {
            for (int c = (q + kv) * D; c < W; c++) assertThat(y[r * W + c]).as("v " + what).isEqualTo(x[r * W + c]);
          }
        }
      }
    }
  }

  /**
   * What a context-parallel rank holds: rank 1 of 4 under the load-balanced layout of a sequence of 4T
   * positions, chunks 1 and 6 of 8 (T even): {T/2 .. T-1, 3T .. 3T + T/2 - 1}.
   */
  static int[] balancedPositions(int T) {
    return CpLayout.positions(4 * T, 4, 1, CpLayout.Kind.BALANCED);
  }

  /** Positions far from 0..T-1, not increasing (rotary embeddings do not care about order). */
  static int[] farPositions(int T) {
    int[] p = new int[T];
    for (int t = 0; t < T; t++) p[t] = (7 * t + 3) % (4 * T);
    return p;
  }

  @Test
  void forwardTouchesOnlyTheAddressedColumnsOfStridedRows() {
    Random rnd = new Random(42);
    int D = 6, heads = 3, col = 5, stride = col + heads * D + 4, rows = 7, T = 7;
    float[] x = randn(rnd, rows * stride, 1.0), y = x.clone();
    try (Compute cx = one()) {
      new Rope(D, T, THETA).apply(cx, y, rows, stride, col, heads, T, null, false);
    }
    double[] want = reference(toDouble(x), rows, stride, col, heads, D, T, null);
    assertClose("strided", y, want, 2e-6);
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < stride; c++) {
        if (c < col || c >= col + heads * D) assertThat(y[r * stride + c]).isEqualTo(x[r * stride + c]);
      }
    }
    // position 0 is the identity
    assertThat(java.util.Arrays.copyOfRange(y, col, col + heads * D))
        .containsExactly(java.util.Arrays.copyOfRange(x, col, col + heads * D));
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void backwardIsTheTransposeOfTheForwardJacobian(int threads) {
    Random rnd = new Random(43);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : SHAPES) {
        int q = s[0], kv = s[1], D = s[2], B = s[3], T = s[4];
        Heads h = new Heads(q, kv, D);
        int W = h.qkvWidth(), rows = B * T;
        Rope rope = new Rope(D, 4 * T, THETA);
        for (int[] positions : new int[][] {null, balancedPositions(T)}) {
          String what = "q=" + q + " kv=" + kv + " D=" + D + (positions == null ? " r%T" : " positions");
          // (1) finite differences: the gradient of <reference(x), g> with respect to x is J^T g
          float[] g = randn(rnd, rows * W, 1.0);
          float[] x = randn(rnd, rows * W, 1.0);
          // (rows are independent: differentiate row by row, each at its own position)
          double[] jtg = new double[rows * W];
          for (int r = 0; r < rows; r++) {
            int p = positions == null ? r % T : positions[r % T];
            float[] gr = java.util.Arrays.copyOfRange(g, r * W, (r + 1) * W);
            double[] row = numericGrad(toDouble(java.util.Arrays.copyOfRange(x, r * W, (r + 1) * W)),
                v -> dotR(referenceRow(v, 0, q + kv, D, p), gr));
            System.arraycopy(row, 0, jtg, r * W, W);
          }
          float[] back = g.clone();
          rope.apply(cx, back, rows, W, 0, q + kv, T, positions, true);
          // the function is linear, so finite differences are exact up to double rounding (~1e-10); the float
          // inverse rotation is a few ulps off: 2e-6 as forward
          assertClose("backward vs finite differences " + what, back, jtg, 2e-6);
          // (2) adjointness with Weft's own forward: <R x, y> = <x, R^T y> for random x, y
          float[] y = randn(rnd, rows * W, 1.0);
          float[] rx = x.clone(), rty = y.clone();
          rope.apply(cx, rx, rows, W, 0, q + kv, T, positions, false);
          rope.apply(cx, rty, rows, W, 0, q + kv, T, positions, true);
          double lhs = 0, rhs = 0, scale = 0;
          for (int i = 0; i < x.length; i++) {
            lhs += (double) rx[i] * y[i];
            rhs += (double) x[i] * rty[i];
            scale += Math.abs((double) x[i] * y[i]);
          }
          // each side is a sum of n products, each a few ulps off: |lhs - rhs| <= ~1e-6 sum |x y|
          assertThat(Math.abs(lhs - rhs)).as("<Rx,y> - <x,R^T y> " + what).isLessThanOrEqualTo(1e-6 * scale);
          // and the inverse undoes the forward
          float[] round = rx.clone();
          rope.apply(cx, round, rows, W, 0, q + kv, T, positions, true);
          assertClose("inverse(forward(x)) " + what, round, toDouble(x), 2e-6);
        }
      }
    }
  }

  @Test
  void twoThreadsAreBitIdenticalToOneThread() {
    Random rnd = new Random(44);
    Heads h = new Heads(8, 2, 14);
    int T = 37, B = 13, rows = B * T, W = h.qkvWidth();
    float[] x = randn(rnd, rows * W, 1.0);
    float[] a = x.clone(), b = x.clone();
    Rope rope = new Rope(14, 4 * T, THETA);
    try (Compute c1 = one(); Compute c2 = two()) {
      rope.apply(c1, a, rows, W, 0, 10, T, farPositions(T), false);
      rope.apply(c2, b, rows, W, 0, 10, T, farPositions(T), false);
      assertBitIdentical("forward", b, a);
      rope.apply(c1, a, rows, W, 0, 10, T, null, true);
      rope.apply(c2, b, rows, W, 0, 10, T, null, true);
      assertBitIdentical("backward", b, a);
    }
  }

  @Test
  void anOddHeadWidthIsRefused() {
    assertThatThrownBy(() -> new Rope(5, 8, THETA)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("even head width");
  }
}
