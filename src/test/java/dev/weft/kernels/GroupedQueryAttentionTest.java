package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Grouped-query attention in {@link BlockAttention} is HF Llama's: with {@link Heads} of q query and kv key/value
 * heads (query head h reads K/V head h / (q / kv), HF's repeat_kv), the blockwise forward (out and lse) and
 * backward (d q|k|v, accumulated) equal a float64 reference of causal GQA, itself checked against central
 * finite differences; for groups 1, 2, 3 and q / kv = q (a single K/V head), sequence lengths that are not
 * multiples of the tile sizes, several tile sizes, 1 and 2 threads.
 */
class GroupedQueryAttentionTest {
  /** {B, T, q, kv, D}: groups 1, 2, 3 and kv = 1 (groups 4 and 3); T across and around the tiles. */
  static final int[][] SHAPES = {
      {2, 1, 2, 2, 3}, {2, 5, 2, 2, 5}, {1, 65, 4, 2, 5}, {2, 37, 6, 2, 7}, {1, 130, 6, 2, 13}, {2, 70, 4, 1, 6},
      {1, 129, 3, 1, 2 * Vec.L + 3}};

  /** Tile sizes: the defaults, and small unequal ones so that even short sequences span many tiles. */
  static final int[][] TILES = {{BlockAttention.BQ, BlockAttention.BK}, {16, 24}, {7, 5}};

  /**
   * Float64 causal GQA on qkv [B,T,(q + 2kv) D] (q | k | v): returns {out [B,T,qD], lse [B,q,T]}, and if
   * dout is non-null also dqkv [B,T,(q + 2kv) D], the gradient of sum(out * dout). K/V head of query head h:
   * h / (q / kv), as HF's repeat_kv expands K/V head j to query heads [j q/kv, (j+1) q/kv).
   */
  static double[][] reference(double[] qkv, double[] dout, int B, int T, Heads hd) {
    int q = hd.q(), D = hd.dim(), W = hd.qkvWidth(), rep = q / hd.kv();
    double scale = 1 / Math.sqrt(D);
    double[] out = new double[B * T * q * D], lse = new double[B * q * T];
    double[] dqkv = dout == null ? null : new double[qkv.length];
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < q; h++) {
        int kvh = h / rep;
        int qc = h * D, kc = q * D + kvh * D, vc = q * D + hd.kv() * D + kvh * D;
        for (int i = 0; i < T; i++) {
          int qi = (b * T + i) * W + qc;
          double[] s = new double[i + 1];
          double m = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += qkv[qi + d] * qkv[(b * T + j) * W + kc + d];
            s[j] = dot * scale;
            m = Math.max(m, s[j]);
          }
          double sum = 0;
          for (int j = 0; j <= i; j++) sum += Math.exp(s[j] - m);
          lse[(b * q + h) * T + i] = m + Math.log(sum);
          double[] p = new double[i + 1];
          for (int j = 0; j <= i; j++) p[j] = Math.exp(s[j] - m) / sum;
          int oi = (b * T + i) * q * D + qc;
          for (int j = 0; j <= i; j++) {
            for (int d = 0; d < D; d++) out[oi + d] += p[j] * qkv[(b * T + j) * W + vc + d];
          }
          if (dout == null) continue;
          // dP_j = dout_i . v_j; dS_j = P_j (dP_j - sum_k P_k dP_k); dq_i += scale dS k; dk_j += scale dS_j q_i
          double[] dp = new double[i + 1];
          double pdp = 0;
          for (int j = 0; j <= i; j++) {
            for (int d = 0; d < D; d++) dp[j] += dout[oi + d] * qkv[(b * T + j) * W + vc + d];
            pdp += p[j] * dp[j];
          }
          for (int j = 0; j <= i; j++) {
            int kj = (b * T + j) * W;
            double ds = p[j] * (dp[j] - pdp) * scale;
            for (int d = 0; d < D; d++) {
              dqkv[kj + vc + d] += p[j] * dout[oi + d];
              dqkv[qi + d] += ds * qkv[kj + kc + d];
              dqkv[kj + kc + d] += ds * qkv[qi + d];
            }
          }
        }
      }
    }
    return dout == null ? new double[][] {out, lse} : new double[][] {out, lse, dqkv};
  }

  @Test
  void theFloat64ReferenceBackwardMatchesFiniteDifferences() {
    Random rnd = new Random(61);
    for (Heads hd : new Heads[] {new Heads(4, 2, 3), new Heads(3, 1, 4), new Heads(6, 3, 2)}) {
      int B = 2, T = 5;
      double[] qkv = toDouble(randn(rnd, B * T * hd.qkvWidth(), 1.0));
      float[] dout = randn(rnd, B * T * hd.qWidth(), 1.0);
      double[] g = numericGrad(qkv, v -> dotR(reference(v, null, B, T, hd)[0], dout));
      double[] analytic = reference(qkv, toDouble(dout), B, T, hd)[2];
      // both float64: central differences are good to ~1e-9 here, far below the 1e-6 asked
      float[] a = new float[analytic.length];
      for (int i = 0; i < a.length; i++) a[i] = (float) analytic[i];
      assertClose("reference dqkv " + hd, a, g, 1e-6);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void blockwiseKernelEqualsTheFloat64Reference(int threads) {
    Random rnd = new Random(62);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : SHAPES) {
        int B = s[0], T = s[1];
        Heads hd = new Heads(s[2], s[3], s[4]);
        float[] qkv = randn(rnd, B * T * hd.qkvWidth(), 1.0), dout = randn(rnd, B * T * hd.qWidth(), 1.0);
        double[][] want = reference(toDouble(qkv), toDouble(dout), B, T, hd);
        for (int[] tile : TILES) {
          String what = "B=" + B + " T=" + T + " " + hd + " tiles " + Arrays.toString(tile);
          float[] out = new float[B * T * hd.qWidth()], lse = new float[B * hd.q() * T];
          Arrays.fill(out, Float.NaN); // stale contents must be overwritten, not read
          Arrays.fill(lse, Float.NaN);
          long ft = BlockAttention.forward(cx, out, lse, qkv, B, T, hd, tile[0], tile[1]);
          float[] d0 = randn(rnd, qkv.length, 1.0), d = d0.clone();
          long bt = BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, hd, tile[0], tile[1]);
          // fp32 vs float64 over dot products of D terms and softmax sums of up to T terms: ~1e-6 of the term
          // size; 2e-5 (out, lse) and 1e-4 (gradients, through the softmax backward's cancellation) leave
          // margin. A wrong K/V head (h % kv instead of h / group), q and k swapped in dk, or a group's dk not
          // summed over its query heads is O(1) off.
          assertClose("out " + what, out, want[0], 2e-5);
          assertClose("lse " + what, lse, want[1], 2e-5);
          assertAccumulated("dqkv " + what, d, d0, want[2], 1e-4);
          long tiles = (long) B * hd.q() * BlockAttention.causalTiles(T, tile[0], tile[1]);
          assertThat(ft).as("forward tiles " + what).isEqualTo(tiles);
          assertThat(bt).as("backward tiles " + what).isEqualTo(tiles);
        }
      }
    }
  }

  @Test
  void oneKeyValueHeadPerQueryHeadIsMultiHeadAttention() {
    // Heads(q, q, D) and the multi-head entry points are the same computation, bit for bit
    Random rnd = new Random(63);
    int B = 2, T = 70, NH = 3, D = 7, C = NH * D;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
    try (Compute cx = two()) {
      float[] o1 = new float[B * T * C], l1 = new float[B * NH * T], d1 = new float[qkv.length];
      float[] o2 = new float[B * T * C], l2 = new float[B * NH * T], d2 = new float[qkv.length];
      BlockAttention.forward(cx, o1, l1, qkv, B, T, C, NH);
      BlockAttention.backward(cx, d1, dout, qkv, o1, l1, B, T, C, NH);
      BlockAttention.forward(cx, o2, l2, qkv, B, T, new Heads(NH, NH, D));
      BlockAttention.backward(cx, d2, dout, qkv, o2, l2, B, T, new Heads(NH, NH, D));
      assertBitIdentical("out", o2, o1);
      assertBitIdentical("dqkv", d2, d1);
    }
  }

  @Test
  void oneAndTwoThreadsAreBitIdentical() {
    Random rnd = new Random(64);
    int B = 2, T = 150;
    Heads hd = new Heads(6, 2, 7);
    float[] qkv = randn(rnd, B * T * hd.qkvWidth(), 1.0), dout = randn(rnd, B * T * hd.qWidth(), 1.0);
    float[][] first = null;
    for (int threads : new int[] {1, 2, 2}) {
      try (Compute cx = new Compute(threads, new VectorGemm())) {
        float[] out = new float[B * T * hd.qWidth()], lse = new float[B * hd.q() * T], d = new float[qkv.length];
        BlockAttention.forward(cx, out, lse, qkv, B, T, hd, 32, 32);
        BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, hd, 32, 32);
        float[][] now = {out, lse, d};
        if (first == null) first = now;
        else for (int k = 0; k < 3; k++) assertBitIdentical(new String[] {"out", "lse", "dqkv"}[k], now[k], first[k]);
      }
    }
  }
}
