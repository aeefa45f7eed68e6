package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * RMSNorm (Llama's, HF's LlamaRMSNorm) is right: the fp32 forward and saved rstd match a float64 reference of
 * {@code y = x / sqrt(mean(x^2) + eps) * w}; backward accumulates (+=) into dinp and dweight the gradient that
 * central finite differences of the float64 reference give; widths around and below the vector length (the
 * vector body and the scalar tail), weights and weight gradients at offsets; 1 and 2 threads bit-identical.
 */
class RmsNormTest {
  static final float EPS = 1e-5f;

  /** {N, C}: C = 1, below, at and above the vector length, and 19 and 37 (never a multiple of it). */
  static int[][] shapes() {
    return new int[][] {{3, 1}, {5, 19}, {13, 37}, {4, Vec.L}, {3, 2 * Vec.L + 3}, {300, 37}};
  }

  /** Float64 reference: out [N,C]; fills rstd [N] if non-null. */
  static double[] reference(double[] x, double[] w, int N, int C, double eps, double[] rstd) {
    double[] out = new double[N * C];
    for (int r = 0; r < N; r++) {
      double ss = 0;
      for (int i = 0; i < C; i++) ss += x[r * C + i] * x[r * C + i];
      double rs = 1 / Math.sqrt(ss / C + eps);
      if (rstd != null) rstd[r] = rs;
      for (int i = 0; i < C; i++) out[r * C + i] = x[r * C + i] * rs * w[i];
    }
    return out;
  }

  static double[] slice(float[] a, int off, int n) {
    double[] d = new double[n];
    for (int i = 0; i < n; i++) d[i] = a[off + i];
    return d;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardMatchesFloat64Reference(int threads) {
    Random rnd = new Random(31);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : shapes()) {
        int N = s[0], C = s[1];
        float[] x = randn(rnd, N * C, 2.0);
        for (int i = 0; i < C; i++) x[i] = 0f; // an all-zero row: rstd = 1/sqrt(eps), out = 0
        float[] w = randn(rnd, C + 5, 1.0);
        float[] out = new float[N * C], rstd = new float[N];
        RmsNorm.forward(cx, out, rstd, x, w, 5, N, C, EPS);
        double[] er = new double[N];
        double[] eo = reference(toDouble(x), slice(w, 5, C), N, C, EPS, er);
        // fp32 vs float64: the sum of C squares (fma) and a few roundings per element, ~1e-6 relative at
        // these widths; 2e-5 of (|e| + rms(e)) leaves margin, while a missing weight, a mean over C-1 or a
        // missing sqrt is off by O(1e-2) or more (C = 37: 1/37 relative); the zero row pins rstd = 1/sqrt(eps).
        assertClose("out " + N + "x" + C, out, eo, 2e-5);
        assertClose("rstd " + N + "x" + C, rstd, er, 2e-5);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void backwardAccumulatesGradientsMatchingFiniteDifferences(int threads) {
    Random rnd = new Random(32);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : shapes()) {
        int N = Math.min(s[0], 13), C = s[1];
        float[] x = randn(rnd, N * C, 1.0);
        for (int i = 0; i < N * C; i++) x[i] += 0.3f; // rows with a non-zero mean
        float[] w = randn(rnd, C + 2, 1.0);
        float[] dout = randn(rnd, N * C, 1.0);
        float[] out = new float[N * C], rstd = new float[N];
        RmsNorm.forward(cx, out, rstd, x, w, 2, N, C, EPS);

        float[] dx0 = randn(rnd, N * C, 1.0), dw0 = randn(rnd, C + 3, 1.0);
        float[] dx = dx0.clone(), dw = dw0.clone();
        RmsNorm.backward(cx, dx, dw, 3, dout, x, w, 2, rstd, N, C);

        double[] xd = toDouble(x), wd = slice(w, 2, C);
        // d/dx and d/dw of sum(out * dout): the gradients backward must add
        double[] gx = numericGrad(xd, v -> dotR(reference(v, wd, N, C, EPS, null), dout));
        double[] gw = numericGrad(wd, v -> dotR(reference(xd, v, N, C, EPS, null), dout));
        // fp32 backward vs the exact gradient: dinp = rstd (g - xhat mean(g xhat)) cancels terms of size
        // |dout w| ~ 1, so errors are ~1e-6 of the term size; dweight sums N products. 1e-4 of (|g| + rms(g))
        // leaves a wide margin while any formula error (a missing rstd, the mean term's sign, dweight without
        // xhat) is O(1) off.
        String what = N + "x" + C;
        assertDinp("dinp " + what, dx, dx0, gx, x, w, 2, dout, rstd, N, C);
        assertAccumulated("dweight " + what, LayerNormTest.slice(dw, 3, C), LayerNormTest.slice(dw0, 3, C), gw, 1e-4);
        // outside the addressed slice nothing changes
        assertBitIdentical("dweight before the offset", LayerNormTest.slice(dw, 0, 3), LayerNormTest.slice(dw0, 0, 3));
      }
    }
  }

  /**
   * dinp - prefill within 1e-4 (|e| + rms(e)) of the exact gradient e, as {@link KernelTesting#assertAccumulated},
   * plus 1e-6 of the size of the terms that cancel in it, rstd (|g_i| + |xhat_i| mean|g xhat|) with g = dout w:
   * at C = 1, y = w x / sqrt(x^2 + eps) is flat and its gradient (~eps / x^2 of the terms) is pure cancellation,
   * which fp32 resolves only to a few ulps of the terms.
   */
  static void assertDinp(String what, float[] after, float[] before, double[] e, float[] x, float[] w, int wOff,
                         float[] dout, float[] rstd, int N, int C) {
    double ss = 0;
    for (double v : e) ss += v * v;
    double rms = Math.sqrt(ss / e.length);
    for (int r = 0; r < N; r++) {
      double mgx = 0;
      for (int i = 0; i < C; i++) mgx += Math.abs((double) dout[r * C + i] * w[wOff + i] * x[r * C + i] * rstd[r]);
      mgx /= C;
      for (int i = 0; i < C; i++) {
        int k = r * C + i;
        double terms = rstd[r] * (Math.abs((double) dout[k] * w[wOff + i]) + Math.abs(x[k] * rstd[r]) * mgx);
        double want = before[k] + e[k];
        double tol = 1e-4 * (Math.abs(e[k]) + rms) + 1e-6 * terms + Math.ulp((float) want);
        if (!(Math.abs(after[k] - want) <= tol)) {
          org.assertj.core.api.Assertions.fail("%s[%d]: got %s, expected prefill %s + grad %s (|diff| %.3g > tol %.3g)",
              what, k, after[k], before[k], e[k], Math.abs(after[k] - want), tol);
        }
      }
    }
  }

  @Test
  void twoThreadsAreBitIdenticalToOneThread() {
    Random rnd = new Random(33);
    int N = 517, C = 37;
    float[] x = randn(rnd, N * C, 1), w = randn(rnd, C, 1), dout = randn(rnd, N * C, 1);
    float[][] first = null;
    for (int run = 0; run < 3; run++) {
      try (Compute cx = new Compute(run == 0 ? 1 : 2, new ScalarGemm())) {
        float[] out = new float[N * C], rstd = new float[N], dx = new float[N * C], dw = new float[C];
        RmsNorm.forward(cx, out, rstd, x, w, 0, N, C, EPS);
        RmsNorm.backward(cx, dx, dw, 0, dout, x, w, 0, rstd, N, C);
        float[][] now = {out, rstd, dx, dw};
        if (first == null) {
          first = now;
        } else {
          String[] names = {"out", "rstd", "dinp", "dweight"};
          for (int k = 0; k < now.length; k++) assertBitIdentical(names[k] + " run " + run, now[k], first[k]);
        }
      }
    }
  }
}
