package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * AdamW (Loshchilov and Hutter): decoupled weight decay and bias correction, over n elements.
 * With step t >= 1: {@code m = b1 m + (1-b1) g}, {@code v = b2 v + (1-b2) g^2},
 * {@code mhat = m / (1 - b1^t)}, {@code vhat = v / (1 - b2^t)},
 * {@code p -= lr (mhat / (sqrt(vhat) + eps) + wd p)}.
 * Parameters and gradients are addressed at pOff/gOff, the moments at mOff (they may be a rank's shard).
 *
 * <p>Serial (the caller shards the parameters), vectorised, elementwise hence deterministic. The bias
 * corrections {@code 1 - b^t} are computed in double and applied as float reciprocals.
 */
public final class AdamW {
  private AdamW() {}

  public static void update(float[] p, int pOff, float[] g, int gOff, float[] m, float[] v, int mOff, int n,
                            float lr, float beta1, float beta2, float eps, float weightDecay, int t) {
    if (t < 1) throw new IllegalArgumentException("AdamW step t must be >= 1, got " + t);
    float c1 = 1f - beta1;
    float c2 = 1f - beta2;
    float ibc1 = (float) (1.0 / (1.0 - Math.pow(beta1, t)));
    float ibc2 = (float) (1.0 / (1.0 - Math.pow(beta2, t)));
    int i = 0;
    int ub = Vec.bound(n);
    for (; i < ub; i += Vec.L) {
      FloatVector gv = FloatVector.fromArray(Vec.S, g, gOff + i);
      FloatVector mv = FloatVector.fromArray(Vec.S, m, mOff + i).mul(beta1).add(gv.mul(c1));
      FloatVector vv = FloatVector.fromArray(Vec.S, v, mOff + i).mul(beta2).add(gv.mul(gv).mul(c2));
      mv.intoArray(m, mOff + i);
      vv.intoArray(v, mOff + i);
      FloatVector pv = FloatVector.fromArray(Vec.S, p, pOff + i);
      FloatVector upd = mv.mul(ibc1).div(vv.mul(ibc2).lanewise(VectorOperators.SQRT).add(eps)).add(pv.mul(weightDecay));
      pv.sub(upd.mul(lr)).intoArray(p, pOff + i);
    }
    for (; i < n; i++) {
      float gi = g[gOff + i];
      float mi = beta1 * m[mOff + i] + c1 * gi;
      float vi = beta2 * v[mOff + i] + c2 * (gi * gi);
      m[mOff + i] = mi;
      v[mOff + i] = vi;
      float pi = p[pOff + i];
      float upd = (mi * ibc1) / ((float) Math.sqrt(vi * ibc2) + eps) + weightDecay * pi;
      p[pOff + i] = pi - lr * upd;
    }
  }
}
