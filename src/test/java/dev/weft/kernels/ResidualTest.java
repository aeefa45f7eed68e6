package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResidualTest {
  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardAddsAndBackwardAccumulatesMatchingFiniteDifferences(int threads) {
    Random rnd = new Random(31);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int n : new int[] {1, 19, 37, 70_001}) {
        float[] a = randn(rnd, n, 1), b = randn(rnd, n, 1), rr = randn(rnd, n, 1);
        float[] out = new float[n];
        Residual.forward(cx, out, a, b, n);
        double[] e = new double[n];
        for (int i = 0; i < n; i++) e[i] = (double) a[i] + b[i];
        // one float rounding: within half an ulp, i.e. 6e-8 relative
        assertClose("out", out, e, 1e-7);

        float[] da0 = randn(rnd, n, 1), db0 = randn(rnd, n, 1);
        float[] da = da0.clone(), db = db0.clone();
        Residual.backward(cx, da, db, rr, n);
        if (n < 100) { // finite differences of sum((a + b) R), the double reference
          double[] ad = toDouble(a), bd = toDouble(b);
          double[] ga = numericGrad(ad, v -> { double s = 0; for (int i = 0; i < n; i++) s += (v[i] + bd[i]) * rr[i]; return s; });
          double[] gb = numericGrad(bd, v -> { double s = 0; for (int i = 0; i < n; i++) s += (ad[i] + v[i]) * rr[i]; return s; });
          assertAccumulated("da", da, da0, ga, 1e-6);
          assertAccumulated("db", db, db0, gb, 1e-6);
        } else {
          assertAccumulated("da", da, da0, toDouble(rr), 0);
          assertAccumulated("db", db, db0, toDouble(rr), 0);
        }
      }
    }
  }
}
