package dev.weft.parallel.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.comm.CommOp;
import dev.weft.comm.Communicator;
import dev.weft.comm.LocalCluster;
import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Heads;
import dev.weft.kernels.VectorGemm;
import dev.weft.parallel.cp.ContextParallel.Method;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Context-parallel grouped-query attention equals the single-device GQA kernel (itself held against a float64
 * reference in GroupedQueryAttentionTest): ring attention (load-balanced layout) and Ulysses (contiguous) on
 * cp = 2 and 4 ranks as threads, with K/V groups of 1, 2, 3 and a single K/V head, rank-local lengths that are
 * not multiples of the tile size; out and d q|k|v assembled from all ranks within 1e-5 and 1e-4 relative norm
 * error. Ulysses refuses K/V heads that cp does not divide, naming the constraint. Ring attention sends exactly
 * (3 cp - 2) B Tl 2 kv D floats per rank per forward and backward, so grouped-query attention moves kv / q of
 * the bytes of multi-head attention with the same query heads.
 */
class GroupedQueryCpAttentionTest {
  /** What all ranks produced, assembled by position, and the bytes each rank sent. */
  record Run(float[] out, float[] dqkv, long[] sentBytes) {}

  static float[] randn(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  /** {out, dqkv} of the single-device blockwise GQA kernel. */
  static float[][] oneDevice(float[] qkv, float[] dout, int B, int T, Heads h) {
    try (Compute cx = new Compute(1, new VectorGemm())) {
      float[] out = new float[B * T * h.qWidth()], lse = new float[B * h.q() * T], d = new float[qkv.length];
      BlockAttention.forward(cx, out, lse, qkv, B, T, h);
      BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, h);
      return new float[][] {out, d};
    }
  }

  /**
   * Forward and backward on n ranks as threads; each rank takes its rows of qkv and dout by its positions under
   * the method's layout, accumulates into a prefilled dqkv (subtracted again) and writes its rows back.
   */
  static Run run(int n, Method method, float[] qkv, float[] dout, int B, int T, Heads h) throws Exception {
    int W = h.qkvWidth(), Q = h.qWidth();
    float[] out = new float[B * T * Q], dqkv = new float[B * T * W];
    long[] sent = new long[n];
    LocalCluster.run(n, CpAttentionTest.TIMEOUT, be -> {
      Communicator g = be.world();
      ContextParallel cp = new ContextParallel(g, method);
      int[] pos = cp.positions(T);
      int Tl = pos.length;
      float[] q = new float[B * Tl * W], go = new float[B * Tl * Q];
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tl; t++) {
          System.arraycopy(qkv, (b * T + pos[t]) * W, q, (b * Tl + t) * W, W);
          System.arraycopy(dout, (b * T + pos[t]) * Q, go, (b * Tl + t) * Q, Q);
        }
      }
      float[] o = new float[B * Tl * Q], lse = new float[B * h.q() * Tl];
      Arrays.fill(o, Float.NaN); // stale contents must be overwritten
      float[] prefill = randn(new Random(cp.rank()), B * Tl * W), d = prefill.clone();
      CpAttention att = cp.attention();
      try (Compute cx = new Compute(1, new VectorGemm())) {
        att.forward(cx, cp, o, lse, q, B, Tl, h, pos);
        att.backward(cx, cp, d, go, q, o, lse, B, Tl, h, pos);
      }
      sent[cp.rank()] = g.stats().get(CommOp.SEND).bytes();
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tl; t++) {
          System.arraycopy(o, (b * Tl + t) * Q, out, (b * T + pos[t]) * Q, Q);
          for (int c = 0; c < W; c++) {
            int i = (b * Tl + t) * W + c;
            dqkv[(b * T + pos[t]) * W + c] = d[i] - prefill[i];
          }
        }
      }
    });
    return new Run(out, dqkv, sent);
  }

  /**
   * Ring and Ulysses against one device. Tolerances as CpAttentionTest: fp32 on both sides, the same terms
   * summed in another order (online softmax merged per block), ~1e-7 relative; 1e-5 (out) and 1e-4 (through the
   * softmax backward's cancellation) leave margin, while a K/V block attended by the wrong query heads or a dK
   * of a shared K/V head not summed over its group is O(1) off.
   */
  static void assertLikeOneDevice(int n, Method method, int B, int T, Heads h, long seed) throws Exception {
    Random rnd = new Random(seed);
    float[] qkv = randn(rnd, B * T * h.qkvWidth()), dout = randn(rnd, B * T * h.qWidth());
    float[][] want = oneDevice(qkv, dout, B, T, h);
    Run got = run(n, method, qkv, dout, B, T, h);
    String what = method + " cp=" + n + " B=" + B + " T=" + T + " " + h;
    double eo = CpAttentionTest.relNorm(got.out(), want[0]), eg = CpAttentionTest.relNorm(got.dqkv(), want[1]);
    System.out.printf("%s: out rel err %.2e, dqkv rel err %.2e%n", what, eo, eg);
    assertThat(eo).as("out " + what).isLessThan(1e-5);
    assertThat(eg).as("dqkv " + what).isLessThan(1e-4);
  }

  @ParameterizedTest(name = "cp={0}")
  @ValueSource(ints = {2, 4})
  void ringEqualsTheSingleDeviceGqaKernel(int n) throws Exception {
    // groups 2, 3, 1 (MHA) and a single K/V head (group 4); chunks of T / (2n) rows, 37, 35, 9 (not tile
    // multiples), and T = 280: 140 rows per rank for n = 2 (more than one 128-row tile), 70 for n = 4
    assertLikeOneDevice(n, Method.RING, 2, 2 * n * 37, new Heads(4, 2, 5), 700 + n);
    assertLikeOneDevice(n, Method.RING, 1, 2 * n * 35, new Heads(6, 2, 7), 710 + n);
    assertLikeOneDevice(n, Method.RING, 1, 2 * n * 9, new Heads(3, 3, 6), 720 + n);
    assertLikeOneDevice(n, Method.RING, 2, 280, new Heads(4, 1, 6), 730 + n);
  }

  @ParameterizedTest(name = "cp={0}")
  @ValueSource(ints = {2, 4})
  void ulyssesEqualsTheSingleDeviceGqaKernel(int n) throws Exception {
    // kv divisible by n; groups 2, 3 and 1; T = n Tl with Tl = 75 or 37 (the head-split attention runs over T)
    assertLikeOneDevice(n, Method.ALLTOALL, 2, n * 75, new Heads(2 * n, n, 5), 740 + n);
    assertLikeOneDevice(n, Method.ALLTOALL, 1, n * 37, new Heads(3 * n, n, 7), 750 + n);
    assertLikeOneDevice(n, Method.ALLTOALL, 1, n * 37, new Heads(n, n, 6), 760 + n);
  }

  @Test
  void ulyssesRefusesKeyValueHeadsThatCpDoesNotDivide() {
    Random rnd = new Random(770);
    // 4 query heads split over 4 ranks, but 2 K/V heads do not
    Heads h = new Heads(4, 2, 5);
    int B = 1, T = 16;
    float[] qkv = randn(rnd, B * T * h.qkvWidth()), dout = randn(rnd, B * T * h.qWidth());
    assertThatThrownBy(() -> run(4, Method.ALLTOALL, qkv, dout, B, T, h)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("divisible by cp").hasMessageContaining("4 query and 2 key/value heads")
        .hasMessageContaining("--cp-attention ring");
    assertThatThrownBy(() -> UlyssesAttention.checkHeads(new Heads(6, 3, 4), 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("cp=2").hasMessageContaining("3 key/value heads");
    UlyssesAttention.checkHeads(new Heads(8, 4, 4), 4); // divides: no error
  }

  @ParameterizedTest(name = "cp={0}")
  @ValueSource(ints = {2, 4})
  void ringTrafficShrinksByKeyValueOverQueryHeads(int n) throws Exception {
    Random rnd = new Random(780 + n);
    int B = 2, T = 2 * n * 12, Tl = T / n, D = 6, q = 4;
    long[] perKv = new long[q + 1];
    for (int kv : new int[] {q, 2, 1}) {
      Heads h = new Heads(q, kv, D);
      float[] qkv = randn(rnd, B * T * h.qkvWidth()), dout = randn(rnd, B * T * h.qWidth());
      Run r = run(n, Method.RING, qkv, dout, B, T, h);
      // forward: n-1 hops of the K/V block; backward: n-1 hops of it and n hops of its gradient; each block is
      // B Tl rows of k|v, 2 kv D floats
      long expect = (3L * n - 2) * B * Tl * 2L * kv * D * Float.BYTES;
      for (int rank = 0; rank < n; rank++) {
        assertThat(r.sentBytes()[rank]).as("bytes sent by rank %d with kv=%d", rank, kv).isEqualTo(expect);
      }
      perKv[kv] = r.sentBytes()[0];
    }
    System.out.printf("ring cp=%d, q=%d: bytes sent per rank %d (kv=4), %d (kv=2), %d (kv=1)%n", n, q, perKv[4],
        perKv[2], perKv[1]);
    // exactly kv / q of multi-head attention's bytes
    assertThat(perKv[2] * q).isEqualTo(perKv[q] * 2);
    assertThat(perKv[1] * q).isEqualTo(perKv[q]);
  }
}
