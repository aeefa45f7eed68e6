package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The SwiGLU activation (HF LlamaMLP's {@code act_fn(gate_proj(x)) * up_proj(x)} with SiLU) is right: from rows
 * [gate | up] the forward {@code silu(gate) up} matches a float64 reference, and backward accumulates (+=) into
 * d[gate | up] the gradient central finite differences of that reference give; for gates up to |x| = 100 of
 * both signs (where e^-x is clamped) the results stay finite and correct, and at the extremes of float (|x| up
 * to Float.MAX_VALUE) silu and its derivative tend to their limits (0 and x; 0 and 1); the vector body and the
 * scalar tail compute the same bits; 1 and 2 threads are bit-identical.
 */
class SwiGluTest {
  static double silu(double x) {
    return x / (1 + Math.exp(-x));
  }

  /** Float64 reference: out [N,F] = silu(in[:, :F]) * in[:, F:] for in [N, 2F]. */
  static double[] reference(double[] in, int N, int F) {
    double[] out = new double[N * F];
    for (int r = 0; r < N; r++) {
      for (int j = 0; j < F; j++) out[r * F + j] = silu(in[r * 2 * F + j]) * in[r * 2 * F + F + j];
    }
    return out;
  }

  /** Gates of every scale: N(0, 3) mostly, plus +-[20, 100] (where e^-x over- or underflows without care). */
  static float[] gateUp(Random rnd, int N, int F) {
    float[] in = randn(rnd, N * 2 * F, 3.0);
    for (int r = 0; r < N; r++) {
      for (int j = 0; j < F; j++) {
        if (rnd.nextInt(4) == 0) in[r * 2 * F + j] = (float) ((rnd.nextBoolean() ? 1 : -1) * (20 + 80 * rnd.nextDouble()));
      }
    }
    in[0] = 100f;
    if (F > 1) in[1] = -100f;
    return in;
  }

  /** {N, F}: F below, at and around multiples of the vector length. */
  static int[][] shapes() {
    return new int[][] {{7, 1}, {5, 3}, {4, Vec.L}, {6, Vec.L + 1}, {3, 3 * Vec.L - 1}, {9, 37}};
  }

  /**
   * |got - want| <= rtol |want| + atol: silu(x) for x < -80 is x e^-80 / (1 + ...) in the kernel (the exponent is
   * clamped so that e^-x stays finite) instead of x e^x; both are below 1e-32 in magnitude for |x| <= 100, so an
   * absolute floor of 1e-30 per unit of the other factor is invisible next to O(1) activations.
   */
  static void assertNear(String what, float[] got, int gOff, double[] want, double rtol, double[] atol) {
    for (int i = 0; i < want.length; i++) {
      double g = got[gOff + i];
      double tol = rtol * Math.abs(want[i]) + atol[i];
      if (!Double.isFinite(g) || !(Math.abs(g - want[i]) <= tol)) {
        fail("%s[%d]: got %s, expected %s (|diff| %.3g > tol %.3g)", what, i, g, want[i], Math.abs(g - want[i]), tol);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardMatchesFloat64ReferenceIncludingLargeGates(int threads) {
    Random rnd = new Random(51);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : shapes()) {
        int N = s[0], F = s[1];
        float[] in = gateUp(rnd, N, F);
        float[] out = new float[N * F];
        SwiGlu.forward(cx, out, in, N, F);
        double[] want = reference(toDouble(in), N, F);
        double[] atol = new double[N * F];
        for (int r = 0; r < N; r++) for (int j = 0; j < F; j++) atol[r * F + j] = 1e-30 * (1 + Math.abs(in[r * 2 * F + F + j]));
        // e^-x to ~2 ulps (Vec.exp), one add, one divide, one multiply: ~5e-7 relative; 2e-6 leaves margin.
        // sigmoid in place of silu, gate and up swapped, or silu(up) * gate are O(1) off.
        assertNear("out " + N + "x" + F, out, 0, want, 2e-6, atol);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void backwardAccumulatesGradientsMatchingFiniteDifferences(int threads) {
    Random rnd = new Random(52);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : shapes()) {
        int N = s[0], F = s[1];
        float[] in = gateUp(rnd, N, F);
        float[] dout = randn(rnd, N * F, 1.0);
        float[] d0 = randn(rnd, N * 2 * F, 1.0), d = d0.clone();
        SwiGlu.backward(cx, d, in, dout, N, F);
        // the gradient of sum(out * dout) with respect to [gate | up], by central differences in float64 (the
        // step 1e-5 (1 + |x|) keeps the truncation error ~1e-10 even at |x| = 100)
        double[] g = numericGrad(toDouble(in), v -> dotR(reference(v, N, F), dout));
        double[] got = delta(d, d0);
        double[] atol = new double[g.length];
        for (int r = 0; r < N; r++) {
          for (int j = 0; j < F; j++) {
            double scale = 1 + Math.abs(dout[r * F + j]) * (1 + Math.abs(in[r * 2 * F + F + j]));
            // the accumulation into the prefilled value rounds to its ulp; the clamp as in forward
            atol[r * 2 * F + j] = Math.ulp(d[r * 2 * F + j]) + 1e-30 * scale;
            atol[r * 2 * F + F + j] = Math.ulp(d[r * 2 * F + F + j]) + 1e-30 * scale;
          }
        }
        float[] gotF = new float[got.length];
        for (int i = 0; i < got.length; i++) gotF[i] = (float) got[i];
        // silu'(x) = s (1 + x (1 - s)) from one exp: ~1e-6 relative; 1e-5 leaves margin. silu' = s (the sigmoid)
        // or (1 - s) for s is O(1) off for |x| ~ 1.
        assertNear("d[gate|up] " + N + "x" + F, gotF, 0, g, 1e-5, atol);
      }
    }
  }

  @Test
  void siluAndItsDerivativeTendToTheirLimitsAtTheExtremesOfFloat() {
    float[] gate = {1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE, 1e10f, -1e10f, 200f, -200f, 88f, -88f, 81f, -81f};
    int N = gate.length, F = 1;
    float[] in = new float[2 * N], dout = new float[N];
    for (int r = 0; r < N; r++) {
      in[2 * r] = gate[r];
      in[2 * r + 1] = 1f; // up
      dout[r] = 1f;
    }
    float[] out = new float[N], din = new float[2 * N];
    try (Compute cx = one()) {
      SwiGlu.forward(cx, out, in, N, F);
      SwiGlu.backward(cx, din, in, dout, N, F);
    }
    for (int r = 0; r < N; r++) {
      double x = gate[r];
      // silu(x) -> x for x -> +inf and -> 0 for x -> -inf; silu'(x) -> 1 and 0; d up = silu(x)
      double silu = x > 0 ? x : 0, dsilu = x > 0 ? 1 : 0;
      assertThat((double) out[r]).as("silu(%s)", x).isFinite().isCloseTo(silu, org.assertj.core.data.Offset.offset(1e-6 * Math.abs(silu) + 1e-30));
      assertThat((double) din[2 * r]).as("silu'(%s)", x).isFinite().isCloseTo(dsilu, org.assertj.core.data.Offset.offset(1e-30));
      assertThat((double) din[2 * r + 1]).as("d up at gate %s", x).isFinite().isCloseTo(silu, org.assertj.core.data.Offset.offset(1e-6 * Math.abs(silu) + 1e-30));
    }
  }

  @Test
  void vectorBodyAndScalarTailComputeTheSameBits() {
    // the same gate/up pairs once in rows of width F = 3 Vec.L + 5 (mostly the vector body) and once in rows of
    // width 1 (always the scalar tail)
    Random rnd = new Random(53);
    int F = 3 * Vec.L + 5, N = 4;
    float[] in = gateUp(rnd, N, F), dout = randn(rnd, N * F, 1.0);
    float[] single = new float[N * F * 2];
    for (int r = 0; r < N; r++) {
      for (int j = 0; j < F; j++) {
        single[2 * (r * F + j)] = in[r * 2 * F + j];
        single[2 * (r * F + j) + 1] = in[r * 2 * F + F + j];
      }
    }
    float[] outWide = new float[N * F], outOne = new float[N * F];
    float[] dWide = new float[N * 2 * F], dOne = new float[N * F * 2];
    try (Compute cx = one()) {
      SwiGlu.forward(cx, outWide, in, N, F);
      SwiGlu.forward(cx, outOne, single, N * F, 1);
      SwiGlu.backward(cx, dWide, in, dout, N, F);
      SwiGlu.backward(cx, dOne, single, dout, N * F, 1);
    }
    assertBitIdentical("out", outOne, outWide);
    float[] dWideAsOne = new float[N * F * 2];
    for (int r = 0; r < N; r++) {
      for (int j = 0; j < F; j++) {
        dWideAsOne[2 * (r * F + j)] = dWide[r * 2 * F + j];
        dWideAsOne[2 * (r * F + j) + 1] = dWide[r * 2 * F + F + j];
      }
    }
    assertBitIdentical("d[gate|up]", dOne, dWideAsOne);
  }

  @Test
  void twoThreadsAreBitIdenticalToOneThread() {
    Random rnd = new Random(54);
    int N = 411, F = 37;
    float[] in = gateUp(rnd, N, F), dout = randn(rnd, N * F, 1.0);
    float[] o1 = new float[N * F], o2 = new float[N * F], d1 = new float[N * 2 * F], d2 = new float[N * 2 * F];
    try (Compute c1 = one(); Compute c2 = two()) {
      SwiGlu.forward(c1, o1, in, N, F);
      SwiGlu.forward(c2, o2, in, N, F);
      SwiGlu.backward(c1, d1, in, dout, N, F);
      SwiGlu.backward(c2, d2, in, dout, N, F);
    }
    assertBitIdentical("out", o2, o1);
    assertBitIdentical("d[gate|up]", d2, d1);
  }
}
