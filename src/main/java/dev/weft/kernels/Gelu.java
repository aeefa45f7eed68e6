package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * GELU in GPT-2's tanh approximation, elementwise over n values:
 * {@code gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}.
 *
 * <p>Evaluated without tanh, using {@code 0.5 (1 + tanh(u)) = sigmoid(2u) = 1 / (1 + exp(-2u))}:
 * {@code gelu(x) = x s} with {@code s = 1 / (1 + e)}, {@code e = exp(-2u)}, {@code u = k (x + c x^3)}.
 * Derivative: {@code gelu'(x) = s + 2 x s (1 - s) u'} with {@code 1 - s = e s}, {@code u' = k (1 + 3 c x^2)}.
 * To stay finite, x is clamped to [-30, 30] inside s and u' (beyond that s is 0 or 1 in float) and -2u to
 * at most 80 (exp(80) is still a finite float); below -30 the factor x is clamped too, so gelu is ~1e-33. Vectorised, parallel over index ranges; elementwise, so
 * deterministic for any thread count.
 */
public final class Gelu {
  private static final float K = (float) Math.sqrt(2.0 / Math.PI);
  private static final float C3 = 0.044715f;
  private static final float KC = K * C3;
  private static final float KC3 = 3f * K * C3;
  private static final float XCLAMP = 30f;
  private static final float ZMAX = 80f;
  private static final int GRAIN = 1 << 13;

  private Gelu() {}

  public static void forward(Compute cx, float[] out, float[] inp, int n) {
    cx.parallelFor(n, GRAIN, (from, to) -> {
      int i = from;
      int ub = from + Vec.bound(to - from);
      for (; i < ub; i += Vec.L) {
        FloatVector x = FloatVector.fromArray(Vec.S, inp, i);
        FloatVector xc = x.max(-XCLAMP).min(XCLAMP);
        FloatVector u = xc.mul(xc).fma(KC, K).mul(xc);               // k x + k c x^3
        FloatVector e = Vec.exp(u.mul(-2f).min(ZMAX));
        x.max(-XCLAMP).div(e.add(1f)).intoArray(out, i);             // x * sigmoid(2u)
      }
      for (; i < to; i++) out[i] = scalar(inp[i]);
    });
  }

  /** Accumulates dinp += gelu'(inp) * dout. */
  public static void backward(Compute cx, float[] dinp, float[] inp, float[] dout, int n) {
    cx.parallelFor(n, GRAIN, (from, to) -> {
      FloatVector one = FloatVector.broadcast(Vec.S, 1f);
      int i = from;
      int ub = from + Vec.bound(to - from);
      for (; i < ub; i += Vec.L) {
        FloatVector x = FloatVector.fromArray(Vec.S, inp, i);
        FloatVector xc = x.max(-XCLAMP).min(XCLAMP);
        FloatVector x2 = xc.mul(xc);
        FloatVector u = x2.fma(KC, K).mul(xc);
        FloatVector du = x2.fma(KC3, K);                             // k + 3 k c x^2
        FloatVector e = Vec.exp(u.mul(-2f).min(ZMAX));
        FloatVector s = one.div(e.add(1f));
        // gelu' = s (1 + 2 x e s u')
        FloatVector g = xc.mul(2f).mul(du).mul(e).mul(s).add(1f).mul(s);
        FloatVector d = FloatVector.fromArray(Vec.S, dinp, i);
        g.fma(FloatVector.fromArray(Vec.S, dout, i), d).intoArray(dinp, i);
      }
      for (; i < to; i++) dinp[i] = Math.fma(scalarGrad(inp[i]), dout[i], dinp[i]);
    });
  }

  /** gelu(x), the same float formula as the vector loop. */
  static float scalar(float x) {
    float xc = Math.max(-XCLAMP, Math.min(XCLAMP, x));
    float u = Math.fma(xc * xc, KC, K) * xc;
    float e = Vec.exp(Math.min(-2f * u, ZMAX));
    return Math.max(x, -XCLAMP) / (e + 1f);
  }

  /** gelu'(x), the same float formula as the vector loop. */
  static float scalarGrad(float x) {
    float xc = Math.max(-XCLAMP, Math.min(XCLAMP, x));
    float x2 = xc * xc;
    float u = Math.fma(x2, KC, K) * xc;
    float du = Math.fma(x2, KC3, K);
    float e = Vec.exp(Math.min(-2f * u, ZMAX));
    float s = 1f / (e + 1f);
    return (xc * 2f * du * e * s + 1f) * s;
  }
}
