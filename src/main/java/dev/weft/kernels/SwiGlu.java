package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;

/**
 * The gated activation of a SwiGLU MLP (Llama): from rows [gate | up] of width 2F (the fused gate and up
 * projections), {@code h = silu(gate) * up} of width F, with {@code silu(x) = x s}, {@code s = 1 / (1 +
 * e^-x)}. Backward: {@code dgate += dh up s (1 + x (1 - s))}, {@code dup += dh x s}. The exponential is
 * {@link Vec#exp} (the same bits on every run), its argument clamped to 80 so that e^-x stays finite; the factor
 * x is clamped to -80 as well (below it s <= e^-80 and silu, silu' are below 1e-32), else x s would grow again
 * for huge negative x (silu(-1e30) came out -1.8e-5, silu'(-1e36) -18). Parallel over rows; elementwise, so
 * deterministic for any thread count.
 */
public final class SwiGlu {
  private static final float ZMAX = 80f;

  private SwiGlu() {}

  /** out [N, F] = silu(in[:, :F]) * in[:, F:] for in [N, 2F]. */
  public static void forward(Compute cx, float[] out, float[] in, int N, int F) {
    cx.parallelFor(N, Math.max(1, 4096 / Math.max(1, F)), (from, to) -> {
      int ub = Vec.bound(F);
      for (int r = from; r < to; r++) {
        int g = r * 2 * F, u = g + F, o = r * F;
        int j = 0;
        for (; j < ub; j += Vec.L) {
          FloatVector x = FloatVector.fromArray(Vec.S, in, g + j);
          FloatVector e = Vec.exp(x.neg().min(ZMAX));
          x.max(-ZMAX).div(e.add(1f)).mul(FloatVector.fromArray(Vec.S, in, u + j)).intoArray(out, o + j);
        }
        for (; j < F; j++) out[o + j] = silu(in[g + j]) * in[u + j];
      }
    });
  }

  /** Accumulates into din [N, 2F] (gate | up) the gradient of out given dout [N, F]. */
  public static void backward(Compute cx, float[] din, float[] in, float[] dout, int N, int F) {
    cx.parallelFor(N, Math.max(1, 4096 / Math.max(1, F)), (from, to) -> {
      int ub = Vec.bound(F);
      FloatVector one = FloatVector.broadcast(Vec.S, 1f);
      for (int r = from; r < to; r++) {
        int g = r * 2 * F, u = g + F, o = r * F;
        int j = 0;
        for (; j < ub; j += Vec.L) {
          FloatVector x = FloatVector.fromArray(Vec.S, in, g + j);
          FloatVector up = FloatVector.fromArray(Vec.S, in, u + j);
          FloatVector dy = FloatVector.fromArray(Vec.S, dout, o + j);
          FloatVector e = Vec.exp(x.neg().min(ZMAX));
          FloatVector s = one.div(e.add(1f));
          FloatVector xs = x.max(-ZMAX).mul(s);
          // d silu = s (1 + x (1 - s)) = s + xs (1 - s)
          FloatVector dsilu = xs.mul(s.neg().add(1f)).add(s);
          dy.mul(up).fma(dsilu, FloatVector.fromArray(Vec.S, din, g + j)).intoArray(din, g + j);
          dy.fma(xs, FloatVector.fromArray(Vec.S, din, u + j)).intoArray(din, u + j);
        }
        for (; j < F; j++) {
          float x = in[g + j], up = in[u + j], dy = dout[o + j];
          float s = sigmoid(x);
          float xs = Math.max(x, -ZMAX) * s;
          float dsilu = xs * (1f - s) + s;
          din[g + j] = Math.fma(dy * up, dsilu, din[g + j]);
          din[u + j] = Math.fma(dy, xs, din[u + j]);
        }
      }
    });
  }

  static float sigmoid(float x) {
    return 1f / (Vec.exp(Math.min(-x, ZMAX)) + 1f);
  }

  static float silu(float x) {
    return Math.max(x, -ZMAX) / (Vec.exp(Math.min(-x, ZMAX)) + 1f);
  }
}
