package dev.weft.kernels;

/**
 * AdamW (Loshchilov and Hutter): decoupled weight decay and bias correction, over n elements.
 * With step t >= 1: {@code m = b1 m + (1-b1) g}, {@code v = b2 v + (1-b2) g^2},
 * {@code mhat = m / (1 - b1^t)}, {@code vhat = v / (1 - b2^t)},
 * {@code p -= lr (mhat / (sqrt(vhat) + eps) + wd p)}.
 * Parameters and gradients are addressed at pOff/gOff, the moments at mOff (they may be a rank's shard).
 */
public final class AdamW {
  private AdamW() {}

  public static void update(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int mOff, int n,
                            float lr, float beta1, float beta2, float eps, float weightDecay, int t) {
    throw new UnsupportedOperationException("TODO");
  }
}
