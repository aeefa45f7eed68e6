package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AttentionTest {
  /** {B, T, NH, hs}: small, odd, and (T = 70, 130) spanning several query blocks of 64. */
  private static final int[][] SHAPES = {{2, 5, 3, 5}, {1, 13, 2, 7}, {1, 70, 1, 6}, {1, 1, 2, 3}};

  /** Double-precision reference: out [B,T,C]; fills att [B,NH,T,T] if non-null. */
  static double[] reference(double[] qkv, int B, int T, int C, int NH, double[] att) {
    int hs = C / NH;
    double scale = 1 / Math.sqrt(hs);
    double[] out = new double[B * T * C];
    double[] p = new double[T];
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int i = 0; i < T; i++) {
          int q = (b * T + i) * 3 * C + h * hs;
          double mx = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            int k = (b * T + j) * 3 * C + C + h * hs;
            double s = 0;
            for (int d = 0; d < hs; d++) s += qkv[q + d] * qkv[k + d];
            p[j] = s * scale;
            mx = Math.max(mx, p[j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            p[j] = Math.exp(p[j] - mx);
            sum += p[j];
          }
          for (int j = 0; j <= i; j++) {
            p[j] /= sum;
            if (att != null) att[((b * NH + h) * T + i) * T + j] = p[j];
            int v = (b * T + j) * 3 * C + 2 * C + h * hs;
            for (int d = 0; d < hs; d++) out[(b * T + i) * C + h * hs + d] += p[j] * qkv[v + d];
          }
        }
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardMatchesDoubleReferenceWithCausalRowStochasticAtt(int threads) {
    Random rnd = new Random(51);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : new int[][] {{2, 5, 3, 5}, {1, 13, 2, 7}, {1, 70, 1, 6}, {2, 130, 2, 3}, {1, 1, 2, 3}}) {
        int B = s[0], T = s[1], NH = s[2], C = NH * s[3];
        float[] qkv = randn(rnd, B * T * 3 * C, 1.0);
        float[] out = new float[B * T * C];
        float[] att = new float[B * NH * T * T];
        Arrays.fill(out, Float.NaN); // stale contents must be overwritten, not read
        Arrays.fill(att, Float.NaN);
        Attention.forward(cx, out, att, qkv, B, T, C, NH);
        double[] eatt = new double[att.length];
        double[] eout = reference(toDouble(qkv), B, T, C, NH, eatt);
        // float scores/softmax/products over <= T terms of size ~1: ~1e-6 relative; 1e-5 gives margin
        assertClose("att", att, eatt, 1e-5);
        assertClose("out", out, eout, 1e-5);
        for (int r = 0; r < B * NH * T; r++) {
          int i = r % T;
          double sum = 0;
          for (int j = 0; j < T; j++) {
            float a = att[r * T + j];
            if (j > i) assertThat(a).as("att above the diagonal").isEqualTo(0f);
            else assertThat(a).isBetween(0f, 1f);
            sum += a;
          }
          assertThat(sum).as("att row sum").isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void backwardAccumulatesGradientsMatchingFiniteDifferences(int threads) {
    Random rnd = new Random(52);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : SHAPES) {
        int B = s[0], T = s[1], NH = s[2], C = NH * s[3];
        float[] qkv = randn(rnd, B * T * 3 * C, 1.0);
        float[] rr = randn(rnd, B * T * C, 1.0);
        float[] out = new float[B * T * C];
        float[] att = new float[B * NH * T * T];
        Attention.forward(cx, out, att, qkv, B, T, C, NH);
        float[] d0 = randn(rnd, qkv.length, 1.0);
        float[] d = d0.clone();
        Attention.backward(cx, d, rr, qkv, att, B, T, C, NH);
        double[] g = numericGrad(toDouble(qkv), v -> dotR(reference(v, B, T, C, NH, null), rr));
        // float products and the softmax backward's cancellation (dP - <P,dP>) with terms ~ sqrt(hs):
        // errors ~1e-6 of the term size; 1e-4 of (|g| + rms g) leaves margin, a wrong formula is O(1) off
        assertAccumulated("dqkv " + Arrays.toString(s), d, d0, g, 1e-4);
      }
    }
  }

  @Test
  void changingFutureKeysAndValuesLeavesEarlierOutputsUnchanged() {
    Random rnd = new Random(53);
    int B = 2, T = 70, NH = 2, C = NH * 5, t0 = 40;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0);
    float[] out1 = new float[B * T * C], att1 = new float[B * NH * T * T];
    float[] out2 = new float[B * T * C], att2 = new float[B * NH * T * T];
    try (Compute cx = one()) {
      Attention.forward(cx, out1, att1, qkv, B, T, C, NH);
      float[] changed = qkv.clone();
      for (int b = 0; b < B; b++) {
        for (int t = t0 + 1; t < T; t++) {
          for (int c = 0; c < 3 * C; c++) changed[(b * T + t) * 3 * C + c] += 5f; // future q, k and v
        }
      }
      Attention.forward(cx, out2, att2, changed, B, T, C, NH);
    }
    boolean laterChanged = false;
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        for (int c = 0; c < C; c++) {
          int i = (b * T + t) * C + c;
          if (t <= t0) assertThat(out2[i]).as("out[%d,%d,%d]", b, t, c).isEqualTo(out1[i]);
          else laterChanged |= out2[i] != out1[i];
        }
      }
    }
    assertThat(laterChanged).as("later outputs do depend on the change").isTrue();
  }

  @Test
  void twoThreadsAreBitIdenticalToOneThread() {
    Random rnd = new Random(54);
    int B = 2, T = 70, NH = 3, C = NH * 5;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0), rr = randn(rnd, B * T * C, 1.0);
    float[][] first = null;
    for (int run = 0; run < 3; run++) {
      try (Compute cx = new Compute(run == 0 ? 1 : 2, new ScalarGemm())) {
        float[] out = new float[B * T * C], att = new float[B * NH * T * T], d = new float[qkv.length];
        Attention.forward(cx, out, att, qkv, B, T, C, NH);
        Attention.backward(cx, d, rr, qkv, att, B, T, C, NH);
        float[][] now = {out, att, d};
        if (first == null) first = now;
        else for (int k = 0; k < 3; k++) assertBitIdentical(new String[] {"out", "att", "dqkv"}[k], now[k], first[k]);
      }
    }
  }
}
