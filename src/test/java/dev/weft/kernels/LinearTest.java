package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.assertAccumulated;
import static dev.weft.kernels.KernelTesting.assertClose;
import static dev.weft.kernels.KernelTesting.dotR;
import static dev.weft.kernels.KernelTesting.numericGrad;
import static dev.weft.kernels.KernelTesting.randn;
import static dev.weft.kernels.KernelTesting.toDouble;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The linear layer (the GEMM's three uses: forward NN, input gradient NT, weight gradient TN) against a
 * double-precision reference and central finite differences of sum(out * R), with the weight at an offset
 * in a flat buffer and gradients accumulated into pre-filled buffers. Tolerance 1e-5 relative to the
 * magnitude: float sums of IC or N products.
 */
class LinearTest {
  static double[] reference(double[] x, double[] w, int wOff, double[] b, int n, int ic, int oc) {
    double[] y = new double[n * oc];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < oc; j++) {
        double s = b == null ? 0 : b[wOff + ic * oc + j];
        for (int p = 0; p < ic; p++) s += x[i * ic + p] * w[wOff + p * oc + j];
        y[i * oc + j] = s;
      }
    }
    return y;
  }

  @ParameterizedTest(name = "N={0} IC={1} OC={2} vector={3}")
  @CsvSource({"5,7,3,false", "13,19,37,false", "33,17,70,true", "9,130,21,true"})
  void forwardAndBackwardMatchFiniteDifferences(int n, int ic, int oc, boolean vector) {
    Random r = new Random(n * 31L + ic);
    int off = 11;
    float[] x = randn(r, n * ic, 1);
    float[] params = randn(r, off + ic * oc + oc, 0.3); // weight [IC,OC] at off, bias [OC] right after it
    float[] rr = randn(r, n * oc, 1);
    Compute cx = vector ? new Compute(2, new VectorGemm()) : KernelTesting.one();
    float[] y = new float[n * oc];
    Linear.forward(cx, y, x, params, off, params, off + ic * oc, n, ic, oc);
    double[] xd = toDouble(x), pd = toDouble(params);
    assertClose("out", y, reference(xd, pd, off, pd, n, ic, oc), 1e-5);

    float[] dx = randn(r, n * ic, 1), dx0 = dx.clone();
    float[] dp = randn(r, params.length, 1), dp0 = dp.clone();
    Linear.backward(cx, dx, dp, off, dp, off + ic * oc, rr, x, params, off, n, ic, oc);
    double[] gx = numericGrad(xd, v -> dotR(reference(v, pd, off, pd, n, ic, oc), rr));
    double[] gp = numericGrad(pd, v -> dotR(reference(xd, v, off, v, n, ic, oc), rr));
    assertAccumulated("dx", dx, dx0, gx, 1e-5);
    assertAccumulated("dW and db", java.util.Arrays.copyOfRange(dp, off, dp.length),
        java.util.Arrays.copyOfRange(dp0, off, dp0.length), java.util.Arrays.copyOfRange(gp, off, gp.length), 1e-5);
    for (int i = 0; i < off; i++) org.assertj.core.api.Assertions.assertThat(dp[i]).isEqualTo(dp0[i]);
  }
}
