package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class AdamWTest {
  /** Double reference of one AdamW step over n elements (arrays already sliced). */
  static void reference(double[] p, double[] g, double[] m, double[] v, double lr, double b1, double b2,
                        double eps, double wd, int t) {
    for (int i = 0; i < p.length; i++) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      double mhat = m[i] / (1 - Math.pow(b1, t));
      double vhat = v[i] / (1 - Math.pow(b2, t));
      p[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + wd * p[i]);
    }
  }

  @Test
  void severalStepsMatchDoubleReferenceWithWeightDecayAndBiasCorrection() {
    Random rnd = new Random(71);
    int n = 37, pOff = 5, gOff = 11, mOff = 3, steps = 6;
    float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    float[] p = randn(rnd, pOff + n + 4, 1.0);
    float[] m = new float[mOff + n + 2], v = new float[mOff + n + 2];
    float[] pBefore = p.clone();
    double[] pd = new double[n], md = new double[n], vd = new double[n];
    for (int i = 0; i < n; i++) pd[i] = p[pOff + i];
    for (int t = 1; t <= steps; t++) {
      float[] g = randn(rnd, gOff + n, 0.5);
      g[gOff] = 0f; // a zero gradient: the update is then weight decay plus momentum only
      AdamW.update(p, pOff, g, gOff, m, v, mOff, n, lr, b1, b2, eps, wd, t);
      double[] gd = new double[n];
      for (int i = 0; i < n; i++) gd[i] = g[gOff + i];
      // the reference uses the float hyperparameters widened to double
      reference(pd, gd, md, vd, lr, b1, b2, eps, wd, t);
      // after step 1, mhat/sqrt(vhat) = sign(g): the bias correction is what makes the first step lr-sized
      // float moments and update: ~1e-7 relative per op, the update is ~lr = 1e-2 of p: so p agrees to
      // ~1e-7 relative; m and v to ~1e-6 relative (v ~ g^2 sums)
      assertClose("p step " + t, p, pOff, pd, n, 1e-6);
      assertClose("m step " + t, m, mOff, md, n, 1e-5);
      assertClose("v step " + t, v, mOff, vd, n, 1e-5);
    }
    // elements outside the addressed slices are untouched
    for (int i = 0; i < pOff; i++) assertThat(p[i]).isEqualTo(pBefore[i]);
    for (int i = pOff + n; i < p.length; i++) assertThat(p[i]).isEqualTo(pBefore[i]);
    for (int i = 0; i < mOff; i++) assertThat(m[i]).isZero();
  }

  @Test
  void firstStepMovesEachParameterByAboutLearningRateAgainstTheGradientSign() {
    // with bias correction, step 1 gives mhat/sqrt(vhat) = g/|g|: each p moves by lr (plus decay)
    int n = 19;
    float[] p = new float[n], g = new float[n], m = new float[n], v = new float[n];
    for (int i = 0; i < n; i++) {
      p[i] = 1f;
      g[i] = (i % 2 == 0 ? 1 : -1) * (i + 1) * 1e-3f;
    }
    AdamW.update(p, 0, g, 0, m, v, 0, n, 0.01f, 0.9f, 0.999f, 1e-8f, 0f, 1);
    for (int i = 0; i < n; i++) {
      double expect = 1 - 0.01 * Math.signum(g[i]);
      assertThat((double) p[i]).isCloseTo(expect, org.assertj.core.data.Offset.offset(1e-6));
    }
  }
}
