package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GeluTest {
  static double reference(double x) {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
  }

  static double[] reference(double[] x) {
    double[] y = new double[x.length];
    for (int i = 0; i < x.length; i++) y[i] = reference(x[i]);
    return y;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardMatchesDoubleReferenceToAboutOneMicroRelative(int threads) {
    Random rnd = new Random(21);
    int n = 40_013; // several parallel chunks, not a multiple of the vector width
    float[] x = randn(rnd, n, 3.0);
    x[0] = 0f; x[1] = -0f; x[2] = 1e-20f; x[3] = 40f; x[4] = -40f; x[5] = 1e30f; x[6] = -1e30f; x[7] = -5f;
    float[] y = new float[n];
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      Gelu.forward(cx, y, x, n);
    }
    for (int i = 0; i < n; i++) {
      double e = reference((double) x[i]);
      // ~1e-6 relative, plus a tiny absolute floor for the far negative tail where gelu(x) -> -0: there
      // gelu ~ x exp(-2|u|) and a float ulp of u moves the result by ~|2u| ulps relative, but the absolute
      // error stays below 1e-7 * |x| * gelu-scale; 2e-8 absolute is invisible next to activations ~1.
      double tol = 2e-6 * Math.abs(e) + 2e-8;
      assertThat(Math.abs(y[i] - e)).as("gelu(%s) = %s, expected %s", x[i], y[i], e).isLessThanOrEqualTo(tol);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void backwardAccumulatesGradientMatchingFiniteDifferences(int threads) {
    Random rnd = new Random(22);
    int n = 1_037;
    float[] x = randn(rnd, n, 3.0);
    float[] rr = randn(rnd, n, 1.0);
    float[] d0 = randn(rnd, n, 1.0);
    float[] d = d0.clone();
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      Gelu.backward(cx, d, x, rr, n);
    }
    // elementwise, so the numeric gradient of sum(gelu(x) R) is gelu'(x) R per element
    double[] g = numericGrad(toDouble(x), v -> dotR(reference(v), rr));
    // gelu' is evaluated from exp in float: ~1e-6 relative; 1e-5 (of |g| + rms) leaves margin
    assertAccumulated("dinp", d, d0, g, 1e-5);
  }

  @Test
  void derivativeIsFiniteAndCorrectAtExtremes() {
    float[] x = {1e30f, -1e30f, 40f, -40f, 1e15f, -1e15f, Float.MAX_VALUE, -Float.MAX_VALUE};
    float[] ones = new float[x.length];
    java.util.Arrays.fill(ones, 1f);
    float[] d = new float[x.length];
    try (Compute cx = new Compute(1, new ScalarGemm())) {
      Gelu.backward(cx, d, x, ones, x.length);
      float[] y = new float[x.length];
      Gelu.forward(cx, y, x, x.length);
      for (int i = 0; i < x.length; i++) {
        double expectGrad = x[i] > 0 ? 1 : 0;
        assertThat((double) d[i]).as("gelu'(%s)", x[i]).isCloseTo(expectGrad, org.assertj.core.data.Offset.offset(1e-12));
        double expectY = x[i] > 0 ? x[i] : 0;
        assertThat((double) y[i]).as("gelu(%s)", x[i]).isCloseTo(expectY, org.assertj.core.data.Offset.offset(1e-12));
      }
    }
  }

  @Test
  void twoThreadsAreBitIdenticalToOneThread() {
    Random rnd = new Random(23);
    int n = 100_003;
    float[] x = randn(rnd, n, 3.0), rr = randn(rnd, n, 1.0);
    float[] y1 = new float[n], y2 = new float[n], d1 = new float[n], d2 = new float[n];
    try (Compute c1 = one(); Compute c2 = two()) {
      Gelu.forward(c1, y1, x, n);
      Gelu.forward(c2, y2, x, n);
      Gelu.backward(c1, d1, x, rr, n);
      Gelu.backward(c2, d2, x, rr, n);
    }
    assertBitIdentical("out", y2, y1);
    assertBitIdentical("dinp", d2, d1);
  }
}
