package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class CrossEntropyTest {
  /** Double reference: per-row loss over the first V columns of rows of stride Vp. */
  static double[] reference(double[] logits, int[] targets, int N, int V, int Vp) {
    double[] loss = new double[N];
    for (int r = 0; r < N; r++) {
      double mx = Double.NEGATIVE_INFINITY;
      for (int j = 0; j < V; j++) mx = Math.max(mx, logits[r * Vp + j]);
      double s = 0;
      for (int j = 0; j < V; j++) s += Math.exp(logits[r * Vp + j] - mx);
      loss[r] = Math.log(s) + mx - logits[r * Vp + targets[r]];
    }
    return loss;
  }

  private static float[] logitsWithPoisonedPadding(Random rnd, int N, int V, int Vp, double std, float shift) {
    float[] x = new float[N * Vp];
    for (int r = 0; r < N; r++) {
      for (int j = 0; j < Vp; j++) {
        x[r * Vp + j] = j < V ? (float) (rnd.nextGaussian() * std) + shift : (j % 2 == 0 ? Float.NaN : 1e30f);
      }
    }
    return x;
  }

  private static int[] targets(Random rnd, int N, int V) {
    int[] t = new int[N];
    for (int i = 0; i < N; i++) t[i] = rnd.nextInt(V);
    t[0] = V - 1; // the last real column
    return t;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardMatchesDoubleReferenceAndIgnoresPadding(int threads) {
    Random rnd = new Random(61);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : new int[][] {{7, 37, 48}, {5, 19, 19}, {3, 1001, 1024}}) {
        int N = s[0], V = s[1], Vp = s[2];
        float[] x = logitsWithPoisonedPadding(rnd, N, V, Vp, 2.0, 0f);
        int[] t = targets(rnd, N, V);
        float[] losses = new float[N];
        CrossEntropy.forward(cx, losses, x, t, N, V, Vp);
        // a float sum of V exponentials (~1e-6 relative) inside a log: ~1e-6 absolute on losses ~ log V
        assertClose("losses", losses, reference(toDouble(x), t, N, V, Vp), 1e-5);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void forwardBackwardWritesScaledGradientMatchingFiniteDifferencesAndZeroesPadding(int threads) {
    Random rnd = new Random(62);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : new int[][] {{7, 37, 48}, {5, 19, 19}, {2, 13, 20}}) {
        int N = s[0], V = s[1], Vp = s[2];
        float scale = 1f / N;
        float[] x = logitsWithPoisonedPadding(rnd, N, V, Vp, 2.0, 0f);
        int[] t = targets(rnd, N, V);
        float[] fwd = new float[N];
        CrossEntropy.forward(cx, fwd, x, t, N, V, Vp);
        double[] xd = toDouble(x);
        float[] losses = new float[N];
        float[] grad = x.clone();
        CrossEntropy.forwardBackward(cx, losses, grad, t, N, V, Vp, scale);
        assertBitIdentical("losses of forwardBackward vs forward", losses, fwd);

        // numeric gradient of scale * sum(losses) with respect to the real (non-padding) logits
        double[] real = new double[N * V];
        for (int r = 0; r < N; r++) System.arraycopy(xd, r * Vp, real, r * V, V);
        double[] g = numericGrad(real, v -> {
          double[] full = xd.clone();
          for (int r = 0; r < N; r++) System.arraycopy(v, r * V, full, r * Vp, V);
          double sum = 0;
          for (double l : reference(full, t, N, V, Vp)) sum += l;
          return scale * sum;
        });
        // softmax probabilities in float: ~1e-6 relative; 1e-5 of (|g| + rms g)
        for (int r = 0; r < N; r++) {
          double[] gr = new double[V];
          System.arraycopy(g, r * V, gr, 0, V);
          assertClose("dlogits row " + r, grad, r * Vp, gr, V, 1e-5);
          for (int j = V; j < Vp; j++) assertThat(grad[r * Vp + j]).as("padding gradient").isEqualTo(0f);
        }
      }
    }
  }

  @Test
  void largeLogitsDoNotOverflow() {
    Random rnd = new Random(63);
    int N = 4, V = 37, Vp = 40;
    float[] x = logitsWithPoisonedPadding(rnd, N, V, Vp, 3.0, 1000f);
    for (int j = 0; j < V; j++) {
      x[2 * Vp + j] = j % 3 == 0 ? 1e4f : -1e4f; // extreme spread in one row
      x[3 * Vp + j] = 88.8f + j;                 // exp(x) alone would overflow float
    }
    int[] t = targets(rnd, N, V);
    t[2] = 1; // a -1e4 target: loss ~ 2e4
    double[] e = reference(toDouble(x), t, N, V, Vp);
    try (Compute cx = one()) {
      float[] losses = new float[N];
      CrossEntropy.forward(cx, losses, x, t, N, V, Vp);
      // losses up to 2e4 are carried in float: relative 1e-6
      assertClose("losses", losses, e, 1e-6);
      float[] grad = x.clone();
      float[] l2 = new float[N];
      CrossEntropy.forwardBackward(cx, l2, grad, t, N, V, Vp, 1f);
      assertClose("losses (forwardBackward)", l2, e, 1e-6);
      for (int r = 0; r < N; r++) {
        double sum = 0;
        for (int j = 0; j < Vp; j++) {
          assertThat(Float.isFinite(grad[r * Vp + j])).isTrue();
          sum += grad[r * Vp + j];
        }
        // softmax - onehot sums to zero
        assertThat(sum).isCloseTo(0.0, org.assertj.core.data.Offset.offset(1e-5));
      }
    }
  }

  @Test
  void twoThreadsAreBitIdenticalToOneThread() {
    Random rnd = new Random(64);
    int N = 21, V = 1003, Vp = 1024;
    float[] x = logitsWithPoisonedPadding(rnd, N, V, Vp, 2.0, 0f);
    int[] t = targets(rnd, N, V);
    float[] l1 = new float[N], l2 = new float[N], f1 = new float[N], f2 = new float[N];
    float[] g1 = x.clone(), g2 = x.clone();
    try (Compute c1 = one(); Compute c2 = two()) {
      CrossEntropy.forward(c1, f1, x, t, N, V, Vp);
      CrossEntropy.forward(c2, f2, x, t, N, V, Vp);
      CrossEntropy.forwardBackward(c1, l1, g1, t, N, V, Vp, 0.5f);
      CrossEntropy.forwardBackward(c2, l2, g2, t, N, V, Vp, 0.5f);
    }
    assertBitIdentical("forward losses", f2, f1);
    assertBitIdentical("losses", l2, l1);
    assertBitIdentical("dlogits", g2, g1);
  }
}
