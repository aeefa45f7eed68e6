package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.Random;
import java.util.function.ToDoubleFunction;

/**
 * Shared helpers for the kernel tests: seeded random data, float/double conversion, central finite
 * differences in double precision and tolerance-based comparison.
 */
final class KernelTesting {
  private KernelTesting() {}

  static float[] randn(Random r, int n, double std) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * std);
    return a;
  }

  static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) d[i] = a[i];
    return d;
  }

  /** sum(out * R) in double. */
  static double dotR(double[] out, float[] rr) {
    double s = 0;
    for (int i = 0; i < out.length; i++) s += out[i] * rr[i];
    return s;
  }

  /**
   * Central finite differences of {@code f} with respect to every element of {@code x} (perturbed in
   * place and restored), step h = 1e-5 (1 + |x|). In double, truncation error is O(h^2) ~ 1e-10 and
   * rounding error ~ 1e-16 |f| / h ~ 1e-10 for the functionals used here, far below the float tolerances.
   */
  static double[] numericGrad(double[] x, ToDoubleFunction<double[]> f) {
    double[] g = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      double xi = x[i];
      double h = 1e-5 * (1 + Math.abs(xi));
      x[i] = xi + h;
      double fp = f.applyAsDouble(x);
      x[i] = xi - h;
      double fm = f.applyAsDouble(x);
      x[i] = xi;
      g[i] = (fp - fm) / (2 * h);
    }
    return g;
  }

  /**
   * Asserts |actual[i] - expected[i]| <= rtol * (|expected[i]| + rms(expected)) for all i: a relative
   * tolerance with an absolute floor at the typical magnitude, because float cancellation makes small
   * entries carry an error proportional to the magnitude of the terms, not of the result.
   */
  static void assertClose(String what, float[] actual, double[] expected, double rtol) {
    assertClose(what, actual, 0, expected, expected.length, rtol);
  }

  static void assertClose(String what, float[] actual, int aOff, double[] expected, int n, double rtol) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += expected[i] * expected[i];
    double rms = Math.sqrt(ss / Math.max(1, n));
    for (int i = 0; i < n; i++) {
      double a = actual[aOff + i];
      double e = expected[i];
      double tol = rtol * (Math.abs(e) + rms);
      if (!(Math.abs(a - e) <= tol)) {
        fail("%s[%d]: got %s, expected %s (|diff| %.3g > tol %.3g)", what, i, a, e, Math.abs(a - e), tol);
      }
    }
  }

  /** The change actual - before, as double (for checking the += convention). */
  static double[] delta(float[] after, float[] before) {
    double[] d = new double[after.length];
    for (int i = 0; i < after.length; i++) d[i] = (double) after[i] - before[i];
    return d;
  }

  /** after - before must match expected: the kernel accumulated into pre-filled gradients. */
  static void assertAccumulated(String what, float[] after, float[] before, double[] expected, double rtol) {
    assertThat(after.length).isEqualTo(before.length);
    // Compare after against before + expected computed in double, so the float rounding of the final
    // add (relative to |before|) does not count against the kernel.
    double[] want = new double[after.length];
    double[] got = new double[after.length];
    double ss = 0;
    for (int i = 0; i < after.length; i++) ss += expected[i] * expected[i];
    double rms = Math.sqrt(ss / Math.max(1, after.length));
    for (int i = 0; i < after.length; i++) {
      want[i] = before[i] + expected[i];
      got[i] = after[i];
      double tol = rtol * (Math.abs(expected[i]) + rms) + Math.ulp((float) want[i]);
      if (!(Math.abs(got[i] - want[i]) <= tol)) {
        fail("%s[%d]: got %s, expected prefill %s + grad %s (|diff| %.3g > tol %.3g)", what, i, got[i], before[i],
            expected[i], Math.abs(got[i] - want[i]), tol);
      }
    }
  }

  static void assertBitIdentical(String what, float[] a, float[] b) {
    assertThat(a.length).isEqualTo(b.length);
    for (int i = 0; i < a.length; i++) {
      if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
        fail("%s[%d] differs between runs: %s vs %s", what, i, a[i], b[i]);
      }
    }
  }

  static Compute one() {
    return new Compute(1, new ScalarGemm());
  }

  static Compute two() {
    return new Compute(2, new ScalarGemm());
  }
}
