package dev.weft.parallel.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.comm.LocalCluster;
import dev.weft.kernels.Attention;
import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.Compute;
import dev.weft.kernels.VectorGemm;
import dev.weft.parallel.cp.ContextParallel.Method;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Context-parallel attention equals the single-device kernel: n = 1, 2, 4 ranks as threads
 * ({@link LocalCluster}), seeded random shapes with hs not a multiple of the vector width, out and dqkv
 * assembled from all ranks in position order against {@link Attention} (out within 1e-5 relative norm,
 * dqkv within 1e-4); reruns bit-identical; input errors; the ring's skipped pairs and per-rank balance.
 */
class CpAttentionTest {
  static final Duration TIMEOUT = Duration.ofSeconds(30);

  /** What all ranks produced, assembled by position; per-rank ring stats (null for Ulysses). */
  record Run(float[] out, float[] dqkv, RingAttention.Stats[] stats) {}

  static float[] randn(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  /** {out, dqkv} of the plain single-device kernel. */
  static float[][] reference(float[] qkv, float[] dout, int B, int T, int C, int NH) {
    try (Compute cx = new Compute(1, new VectorGemm())) {
      float[] out = new float[B * T * C], att = new float[B * NH * T * T], d = new float[qkv.length];
      Attention.forward(cx, out, att, qkv, B, T, C, NH);
      Attention.backward(cx, d, dout, qkv, att, B, T, C, NH);
      return new float[][] {out, d};
    }
  }

  /**
   * Runs forward + backward on n ranks; each rank takes its rows of qkv and dout by its positions
   * (layout of {@code kind}), accumulates into a prefilled dqkv (the prefill is subtracted again) and
   * writes its rows back by position.
   */
  static Run run(int n, Method method, CpLayout.Kind kind, float[] qkv, float[] dout, int B, int T, int C, int NH,
                 int threads) throws Exception {
    float[] out = new float[B * T * C], dqkv = new float[B * T * 3 * C];
    RingAttention.Stats[] stats = new RingAttention.Stats[n];
    LocalCluster.run(n, TIMEOUT, be -> {
      ContextParallel cp = new ContextParallel(n == 1 ? null : be.world(), method);
      int[] pos = CpLayout.positions(T, n, cp.rank(), kind);
      int Tl = pos.length;
      float[] q = new float[B * Tl * 3 * C], go = new float[B * Tl * C];
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tl; t++) {
          System.arraycopy(qkv, (b * T + pos[t]) * 3 * C, q, (b * Tl + t) * 3 * C, 3 * C);
          System.arraycopy(dout, (b * T + pos[t]) * C, go, (b * Tl + t) * C, C);
        }
      }
      float[] o = new float[B * Tl * C], lse = new float[B * NH * Tl];
      Arrays.fill(o, Float.NaN); // stale contents must be overwritten
      float[] prefill = randn(new Random(cp.rank()), B * Tl * 3 * C), d = prefill.clone();
      CpAttention att = cp.attention();
      try (Compute cx = new Compute(threads, new VectorGemm())) {
        att.forward(cx, cp, o, lse, q, B, Tl, C, NH, pos);
        att.backward(cx, cp, d, go, q, o, lse, B, Tl, C, NH, pos);
      }
      if (att instanceof RingAttention ring) stats[cp.rank()] = ring.stats();
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tl; t++) {
          System.arraycopy(o, (b * Tl + t) * C, out, (b * T + pos[t]) * C, C);
          for (int c = 0; c < 3 * C; c++) {
            int i = (b * Tl + t) * 3 * C + c;
            dqkv[(b * T + pos[t]) * 3 * C + c] = d[i] - prefill[i];
          }
        }
      }
    });
    return new Run(out, dqkv, method == Method.RING ? stats : null);
  }

  @ParameterizedTest(name = "n={0}")
  @ValueSource(ints = {2, 4})
  void buffersAreChargedToTheDeviceWhileACallRunsAsTheFormulaSays(int n) throws Exception {
    Random rnd = new Random(11 + n);
    int B = 2, NH = 4 * n, C = NH * 5, T = 2 * n * 12;
    float[] qkv = randn(rnd, B * T * 3 * C), dout = randn(rnd, B * T * C);
    for (Method method : Method.values()) {
      CpLayout.Kind kind = method == Method.RING ? CpLayout.Kind.BALANCED : CpLayout.Kind.CONTIGUOUS;
      long[][] seen = new long[n][];
      LocalCluster.run(n, TIMEOUT, be -> {
        ContextParallel cp = new ContextParallel(be.world(), method);
        int[] pos = CpLayout.positions(T, n, cp.rank(), kind);
        int Tl = pos.length;
        float[] q = Arrays.copyOf(qkv, B * Tl * 3 * C), go = Arrays.copyOf(dout, B * Tl * C);
        float[] o = new float[B * Tl * C], lse = new float[B * NH * Tl], d = new float[q.length];
        dev.weft.tensor.DeviceMemory mem = dev.weft.tensor.DeviceMemory.unlimited("rank " + cp.rank());
        CpAttention att = cp.attention(new dev.weft.tensor.BufferPool(mem));
        try (Compute cx = new Compute(1, new VectorGemm())) {
          att.forward(cx, cp, o, lse, q, B, Tl, C, NH, pos);
          long afterForward = mem.inUse();
          att.backward(cx, cp, d, go, q, o, lse, B, Tl, C, NH, pos);
          seen[cp.rank()] = new long[] {afterForward, mem.inUse(), mem.peak(), Tl,
              cp.attentionBufferFloats(B, Tl, dev.weft.kernels.Heads.mha(C, NH))};
        }
      });
      for (long[] r : seen) {
        int Tl = (int) r[3];
        long formula = method == Method.RING ? RingAttention.transientFloats(B, Tl, C, NH)
            : UlyssesAttention.transientFloats(B, Tl, C, NH);
        assertThat(r[4]).as("%s: the group's dispatch", method).isEqualTo(formula);
        assertThat(r[0]).as("%s: held after forward", method).isZero();
        assertThat(r[1]).as("%s: held after backward", method).isZero();
        assertThat(r[2]).as("%s: peak", method).isEqualTo(4 * formula);
        assertThat(4 * formula).isEqualTo(dev.weft.plan.MemoryModel.runtimeCpTransientBytes(
            new dev.weft.models.gpt2.GPT2Config(1, C, NH, T, 16).spec(), B, T, 1, n,
            method == Method.RING ? dev.weft.plan.CpAlgorithm.RING : dev.weft.plan.CpAlgorithm.ALL_TO_ALL));
      }
    }
  }

  static double relNorm(float[] a, float[] e) {
    double dd = 0, ee = 0;
    for (int i = 0; i < e.length; i++) {
      dd += Math.pow((double) a[i] - e[i], 2);
      ee += (double) e[i] * e[i];
    }
    return Math.sqrt(dd / ee);
  }

  /** Random shapes: B in {1, 2}, NH in {4, 8} (divisible by 1, 2, 4), hs in {5, 7, 13}, T a multiple of m. */
  static int[][] shapes(Random rnd, int m, int count) {
    int[][] s = new int[count][];
    int[] hss = {5, 7, 13};
    for (int i = 0; i < count; i++) {
      int B = 1 + rnd.nextInt(2), NH = 4 << rnd.nextInt(2), hs = hss[rnd.nextInt(3)];
      int T = m * (1 + rnd.nextInt(Math.max(1, 300 / m)));
      s[i] = new int[] {B, T, NH * hs, NH};
    }
    // one long enough that chunks span more than one 128-row tile
    s[count - 1][1] = m * ((300 + m - 1) / m);
    return s;
  }

  void checkAgainstReference(int n, Method method, CpLayout.Kind kind, long seed) throws Exception {
    Random rnd = new Random(seed);
    int m = kind == CpLayout.Kind.BALANCED ? 2 * n : n;
    for (int[] s : shapes(rnd, m, 3)) {
      int B = s[0], T = s[1], C = s[2], NH = s[3];
      float[] qkv = randn(rnd, B * T * 3 * C), dout = randn(rnd, B * T * C);
      float[][] want = reference(qkv, dout, B, T, C, NH);
      Run got = run(n, method, kind, qkv, dout, B, T, C, NH, 1);
      String what = method + " " + kind + " n=" + n + " B=" + B + " T=" + T + " C=" + C + " NH=" + NH;
      double eo = relNorm(got.out(), want[0]), eg = relNorm(got.dqkv(), want[1]);
      System.out.printf("%s: out rel err %.2e, dqkv rel err %.2e%n", what, eo, eg);
      assertThat(eo).as("out " + what).isLessThan(1e-5);
      assertThat(eg).as("dqkv " + what).isLessThan(1e-4);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4})
  void ringEqualsTheSingleDeviceKernel(int n) throws Exception {
    checkAgainstReference(n, Method.RING, CpLayout.Kind.BALANCED, 100 + n);
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 4})
  void ringOnTheContiguousLayoutEqualsTheSingleDeviceKernelToo(int n) throws Exception {
    checkAgainstReference(n, Method.RING, CpLayout.Kind.CONTIGUOUS, 200 + n);
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2, 4})
  void ulyssesEqualsTheSingleDeviceKernel(int n) throws Exception {
    checkAgainstReference(n, Method.ALLTOALL, CpLayout.Kind.CONTIGUOUS, 300 + n);
  }

  @Test
  void rerunsAreBitIdenticalForAnyComputeThreadCount() throws Exception {
    Random rnd = new Random(400);
    int n = 4, B = 2, T = 8 * 37, NH = 4, C = NH * 7;
    float[] qkv = randn(rnd, B * T * 3 * C), dout = randn(rnd, B * T * C);
    for (Method method : Method.values()) {
      CpLayout.Kind kind = CpLayout.kind(method);
      Run first = run(n, method, kind, qkv, dout, B, T, C, NH, 1);
      Run again = run(n, method, kind, qkv, dout, B, T, C, NH, 1);
      Run twoThreads = run(n, method, kind, qkv, dout, B, T, C, NH, 2);
      for (Run r : new Run[] {again, twoThreads}) {
        assertThat(bits(r.out())).as(method + " out").isEqualTo(bits(first.out()));
        assertThat(bits(r.dqkv())).as(method + " dqkv").isEqualTo(bits(first.dqkv()));
      }
    }
  }

  static int[] bits(float[] a) {
    int[] b = new int[a.length];
    for (int i = 0; i < a.length; i++) b[i] = Float.floatToRawIntBits(a[i]);
    return b;
  }

  @Test
  void layoutsArePartitionsOfTheSequenceInIncreasingOrder() {
    assertThat(CpLayout.positions(8, 2, 0, Method.RING)).containsExactly(0, 1, 6, 7);
    assertThat(CpLayout.positions(8, 2, 1, Method.RING)).containsExactly(2, 3, 4, 5);
    assertThat(CpLayout.positions(8, 2, 1, Method.ALLTOALL)).containsExactly(4, 5, 6, 7);
    for (CpLayout.Kind kind : CpLayout.Kind.values()) {
      for (int n : new int[] {1, 2, 3, 4}) {
        int T = 2 * n * 5;
        boolean[] seen = new boolean[T];
        for (int r = 0; r < n; r++) {
          int[] p = CpLayout.positions(T, n, r, kind);
          assertThat(p).hasSize(T / n).isSorted();
          assertThat(CpLayout.kindOf(p, n, r)).isEqualTo(n == 1 ? CpLayout.Kind.BALANCED : kind);
          for (int x : p) {
            assertThat(seen[x]).isFalse();
            seen[x] = true;
          }
        }
      }
    }
  }

  @Test
  void badSequenceLengthsAndHeadCountsAreClearErrors() {
    assertThatThrownBy(() -> CpLayout.positions(12, 4, 0, Method.RING)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("divisible by 8").hasMessageContaining("T=12");
    assertThatThrownBy(() -> CpLayout.positions(10, 4, 0, Method.ALLTOALL)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("divisible by 4").hasMessageContaining("T=10");
    assertThatThrownBy(() -> CpLayout.positions(0, 2, 0, Method.RING)).isInstanceOf(WeftInputException.class);
    assertThatThrownBy(() -> CpLayout.positions(8, 0, 0, Method.RING)).isInstanceOf(WeftInputException.class);
    assertThat(CpLayout.positions(12, 4, 3, Method.ALLTOALL)).containsExactly(9, 10, 11);
    // Ulysses with NH = 3 heads over 2 ranks, on the ranks themselves
    Random rnd = new Random(500);
    int B = 1, T = 8, NH = 3, C = NH * 5;
    float[] qkv = randn(rnd, B * T * 3 * C), dout = randn(rnd, B * T * C);
    assertThatThrownBy(() -> run(2, Method.ALLTOALL, CpLayout.Kind.CONTIGUOUS, qkv, dout, B, T, C, NH, 1))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("divisible by cp").hasMessageContaining("3 query");
    // the ring refuses positions of neither layout
    assertThatThrownBy(() -> CpLayout.kindOf(new int[] {0, 2}, 2, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void ringSkipsFullyMaskedPairsAndTheBalancedLayoutEqualisesTheWork() throws Exception {
    int n = 4, B = 1, NH = 2, C = NH * 5, Tc = 2 * BlockAttention.BQ, T = 2 * n * Tc;
    Random rnd = new Random(600);
    float[] qkv = randn(rnd, B * T * 3 * C), dout = randn(rnd, B * T * C);
    Run bal = run(n, Method.RING, CpLayout.Kind.BALANCED, qkv, dout, B, T, C, NH, 1);
    Run con = run(n, Method.RING, CpLayout.Kind.CONTIGUOUS, qkv, dout, B, T, C, NH, 1);
    long[] balTiles = new long[n], conTiles = new long[n];
    for (int r = 0; r < n; r++) {
      RingAttention.Stats b = bal.stats()[r], c = con.stats()[r];
      // balanced: query chunk q sees the q+1 chunks up to itself; rank r's chunks r and 2n-1-r see 2n+1
      assertThat(b.pairsComputed()).as("balanced pairs computed, rank " + r).isEqualTo(2 * n + 1);
      assertThat(b.pairsSkipped()).as("balanced pairs skipped, rank " + r).isEqualTo(2 * n - 1);
      assertThat(c.pairsComputed()).as("contiguous pairs computed, rank " + r).isEqualTo(r + 1);
      assertThat(c.pairsSkipped()).as("contiguous pairs skipped, rank " + r).isEqualTo(n - 1 - r);
      assertThat(b.backwardTiles()).isEqualTo(b.forwardTiles());
      assertThat(c.backwardTiles()).isEqualTo(c.forwardTiles());
      assertThat(b.forwardCalls()).isEqualTo(1);
      assertThat(b.backwardCalls()).isEqualTo(1);
      assertThat(b.computeNs()).isPositive();
      assertThat(b.waitNs()).isNotNegative();
      balTiles[r] = b.forwardTiles();
      conTiles[r] = c.forwardTiles();
    }
    long full = (long) B * NH * BlockAttention.causalTiles(T, BlockAttention.BQ, BlockAttention.BK);
    System.out.println("tiles per rank, balanced " + Arrays.toString(balTiles) + ", contiguous "
        + Arrays.toString(conTiles) + "; one device " + full);
    // no masked work beyond the single-device kernel's: chunks are whole tiles here
    assertThat(Arrays.stream(balTiles).sum()).isEqualTo(full);
    assertThat(Arrays.stream(conTiles).sum()).isEqualTo(full);
    assertThat(Arrays.stream(balTiles).max().getAsLong()).isEqualTo(Arrays.stream(balTiles).min().getAsLong());
    double conImbalance = (double) Arrays.stream(conTiles).max().getAsLong() / Arrays.stream(conTiles).min().getAsLong();
    assertThat(conImbalance).as("contiguous layout: last rank / first rank").isGreaterThan(5);
    RingAttention.Stats st = bal.stats()[0];
    st.reset();
    assertThat(st.computeNs() + st.waitNs() + st.forwardTiles() + st.pairsComputed() + st.forwardCalls()).isZero();
  }
}
