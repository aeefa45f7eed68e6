package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.kernels.BlockAttention.Mask;
import dev.weft.kernels.BlockAttention.View;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BlockAttentionTest {
  /** {B, T, NH, hs}: T around and across 64-row tiles, hs not a multiple of the vector width. */
  private static final int[][] SHAPES = {
      {2, 1, 2, 3}, {2, 5, 3, 5}, {1, 63, 1, 7}, {1, 64, 2, 6}, {2, 65, 3, 5}, {1, 130, 2, 13}, {1, 130, 1, 20}};

  /** Tile sizes: the defaults, and small unequal ones so that even short sequences span many tiles. */
  private static final int[][] TILES = {{BlockAttention.BQ, BlockAttention.BK}, {64, 64}, {16, 24}, {7, 5}};

  // ------------------------------------------------------------------------------------------------
  // plain kernel, for comparison

  /** {out [B,T,C], dqkv [B,T,3C]} of the plain Attention kernel. */
  private static float[][] plain(Compute cx, float[] qkv, float[] dout, int B, int T, int C, int NH) {
    float[] out = new float[B * T * C], att = new float[B * NH * T * T], d = new float[qkv.length];
    Attention.forward(cx, out, att, qkv, B, T, C, NH);
    Attention.backward(cx, d, dout, qkv, att, B, T, C, NH);
    return new float[][] {out, d};
  }

  /** Largest |a - e| / (|e| + rms(e)), the quantity assertClose bounds. */
  private static double relErr(float[] a, float[] e) {
    double ss = 0;
    for (float x : e) ss += (double) x * x;
    double rms = Math.sqrt(ss / Math.max(1, e.length));
    double worst = 0;
    for (int i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]) / (Math.abs(e[i]) + rms));
    return worst;
  }

  // float vs float, both ~1e-6 relative to the term size: 2e-5 (out) and 1e-4 (grads, through the softmax
  // backward's cancellation) leave margin; a wrong formula or a missing tile is O(1) off
  private static final double OUT_TOL = 2e-5;
  private static final double GRAD_TOL = 1e-4;

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void fullForwardAndBackwardEqualThePlainKernel(int threads) {
    Random rnd = new Random(71);
    try (Compute cx = new Compute(threads, new ScalarGemm())) {
      for (int[] s : SHAPES) {
        int B = s[0], T = s[1], NH = s[2], C = NH * s[3];
        float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
        float[][] want = plain(cx, qkv, dout, B, T, C, NH);
        for (int[] tile : TILES) {
          String what = Arrays.toString(s) + " tiles " + Arrays.toString(tile);
          float[] out = new float[B * T * C], lse = new float[B * NH * T];
          Arrays.fill(out, Float.NaN); // stale contents must be overwritten, not read
          Arrays.fill(lse, Float.NaN);
          long ft = BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH, tile[0], tile[1]);
          float[] d0 = randn(rnd, qkv.length, 1.0), d = d0.clone();
          long bt = BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, C, NH, tile[0], tile[1]);
          assertClose("out " + what, out, toDouble(want[0]), OUT_TOL);
          assertAccumulated("dqkv " + what, d, d0, toDouble(want[1]), GRAD_TOL);
          // fully masked tiles are skipped: exactly the tiles touching the lower triangle are computed
          long expect = (long) B * NH * BlockAttention.causalTiles(T, tile[0], tile[1]);
          assertThat(ft).as("forward tiles " + what).isEqualTo(expect);
          assertThat(bt).as("backward tiles " + what).isEqualTo(expect);
        }
      }
    }
  }

  @Test
  void lseIsTheLogSumExpOfTheScaledScores() {
    Random rnd = new Random(72);
    int B = 2, T = 70, NH = 2, hs = 5, C = NH * hs;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0);
    float[] out = new float[B * T * C], lse = new float[B * NH * T];
    try (Compute cx = one()) {
      BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH, 16, 24);
    }
    double[] want = new double[lse.length];
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < NH; h++) {
        for (int i = 0; i < T; i++) {
          double sum = 0;
          for (int j = 0; j <= i; j++) {
            double sc = 0;
            for (int d = 0; d < hs; d++) {
              sc += (double) qkv[(b * T + i) * 3 * C + h * hs + d] * qkv[(b * T + j) * 3 * C + C + h * hs + d];
            }
            sum += Math.exp(sc / Math.sqrt(hs));
          }
          want[(b * NH + h) * T + i] = Math.log(sum);
        }
      }
    }
    assertClose("lse", lse, want, 1e-5);
  }

  @Test
  void backwardMatchesDoubleFiniteDifferencesOnATinyCase() {
    Random rnd = new Random(73);
    int B = 1, T = 7, NH = 2, C = NH * 3;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0), rr = randn(rnd, B * T * C, 1.0);
    double[] g = numericGrad(toDouble(qkv), v -> dotR(AttentionTest.reference(v, B, T, C, NH, null), rr));
    try (Compute cx = one()) {
      for (int[] tile : new int[][] {{64, 64}, {2, 3}, {3, 2}}) {
        float[] out = new float[B * T * C], lse = new float[B * NH * T];
        BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH, tile[0], tile[1]);
        assertClose("out", out, AttentionTest.reference(toDouble(qkv), B, T, C, NH, null), 1e-5);
        float[] d0 = randn(rnd, qkv.length, 1.0), d = d0.clone();
        BlockAttention.backward(cx, d, rr, qkv, out, lse, B, T, C, NH, tile[0], tile[1]);
        assertAccumulated("dqkv tiles " + Arrays.toString(tile), d, d0, g, 1e-4);
      }
      // the ring building blocks too: 3 uneven chunks, keys arriving in reverse order
      float[][] ring = ring(cx, qkv, rr, B, T, C, NH, contiguous(new int[] {0, 2, 5, 7}), reverseOrders(3),
          contiguousMasks(new int[] {0, 2, 5, 7}), 2, 3, null);
      assertClose("ring out", ring[0], AttentionTest.reference(toDouble(qkv), B, T, C, NH, null), 1e-5);
      assertClose("ring dqkv", ring[1], g, 1e-4);
    }
  }

  // ------------------------------------------------------------------------------------------------
  // ring composition

  /**
   * Simulates context parallelism: rank r holds the rows rows[r] (sorted absolute positions) of q and of
   * k|v, copied into its own q [B,Tr,C] and packed kv [B,Tr,2C]. Each rank visits the K/V blocks of the
   * ranks listed in order[r] (one at a time, as they would arrive around a ring), merging them into its
   * running state with masks.apply(r, s); then finishes, computes D and runs the backward for the same
   * blocks in the same order, accumulating its dq and the travelling dk|dv of block s. Returns {out
   * [B,T,C], dqkv [B,T,3C]} assembled from the ranks; tiles[r][s] receives the tile counts (if non-null).
   */
  static float[][] ring(Compute cx, float[] qkv, float[] dout, int B, int T, int C, int NH, int[][] rows,
                        int[][] order, BiFunction<Integer, Integer, Mask> masks, int bq, int bk, long[][] tiles) {
    int n = rows.length;
    float[][] q = new float[n][], kv = new float[n][], go = new float[n][], dkv = new float[n][];
    for (int r = 0; r < n; r++) {
      int Tr = rows[r].length;
      q[r] = new float[B * Tr * C];
      kv[r] = new float[B * Tr * 2 * C];
      go[r] = new float[B * Tr * C];
      dkv[r] = new float[B * Tr * 2 * C];
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tr; t++) {
          int src = (b * T + rows[r][t]) * 3 * C;
          System.arraycopy(qkv, src, q[r], (b * Tr + t) * C, C);
          System.arraycopy(qkv, src + C, kv[r], (b * Tr + t) * 2 * C, 2 * C);
          System.arraycopy(dout, (b * T + rows[r][t]) * C, go[r], (b * Tr + t) * C, C);
        }
      }
    }
    float[] out = new float[B * T * C], dqkv = new float[B * T * 3 * C];
    for (int r = 0; r < n; r++) {
      int Tr = rows[r].length;
      View qv = View.dense(q[r], Tr, C);
      View ov = View.dense(new float[B * Tr * C], Tr, C);
      float[] m = new float[B * NH * Tr], l = new float[B * NH * Tr], lse = new float[B * NH * Tr];
      BlockAttention.init(ov, m, l, B, Tr, C, NH);
      for (int s : order[r]) {
        int Ts = rows[s].length;
        Mask mask = masks.apply(r, s);
        if (mask == null) continue; // the rank knows this block is invisible
        long t = BlockAttention.accumulate(cx, ov, m, l, qv, new View(kv[s], 0, Ts * 2 * C, 2 * C),
            new View(kv[s], C, Ts * 2 * C, 2 * C), B, Tr, Ts, C, NH, mask, bq, bk);
        if (tiles != null) tiles[r][s] = t;
      }
      BlockAttention.finish(ov, m, l, lse, B, Tr, C, NH);
      float[] D = new float[B * NH * Tr];
      View gv = View.dense(go[r], Tr, C);
      BlockAttention.rowDot(cx, D, ov, gv, B, Tr, C, NH);
      float[] dq = new float[B * Tr * C];
      for (int s : order[r]) {
        int Ts = rows[s].length;
        Mask mask = masks.apply(r, s);
        if (mask == null) continue;
        long t = BlockAttention.backward(cx, View.dense(dq, Tr, C), new View(dkv[s], 0, Ts * 2 * C, 2 * C),
            new View(dkv[s], C, Ts * 2 * C, 2 * C), gv, lse, D, qv, new View(kv[s], 0, Ts * 2 * C, 2 * C),
            new View(kv[s], C, Ts * 2 * C, 2 * C), B, Tr, Ts, C, NH, mask, bq, bk);
        if (tiles != null) assertThat(t).as("backward tiles = forward tiles").isEqualTo(tiles[r][s]);
      }
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tr; t++) {
          System.arraycopy(ov.data(), (b * Tr + t) * C, out, (b * T + rows[r][t]) * C, C);
          System.arraycopy(dq, (b * Tr + t) * C, dqkv, (b * T + rows[r][t]) * 3 * C, C);
        }
      }
    }
    for (int s = 0; s < n; s++) {
      int Ts = rows[s].length;
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Ts; t++) {
          System.arraycopy(dkv[s], (b * Ts + t) * 2 * C, dqkv, (b * T + rows[s][t]) * 3 * C + C, 2 * C);
        }
      }
    }
    return new float[][] {out, dqkv};
  }

  /** n contiguous chunks [bounds[r], bounds[r+1]). */
  static int[][] contiguous(int[] bounds) {
    int[][] rows = new int[bounds.length - 1][];
    for (int r = 0; r < rows.length; r++) {
      rows[r] = new int[bounds[r + 1] - bounds[r]];
      for (int t = 0; t < rows[r].length; t++) rows[r][t] = bounds[r] + t;
    }
    return rows;
  }

  /** Near-equal split of T into n pieces (uneven when n does not divide T). */
  static int[] split(int T, int n) {
    int[] b = new int[n + 1];
    for (int i = 0; i <= n; i++) b[i] = (int) ((long) T * i / n);
    return b;
  }

  /** The ring order: at step k rank r holds the K/V block of rank (r - k) mod n. */
  static int[][] ringOrders(int n) {
    int[][] o = new int[n][n];
    for (int r = 0; r < n; r++) for (int k = 0; k < n; k++) o[r][k] = Math.floorMod(r - k, n);
    return o;
  }

  static int[][] reverseOrders(int n) {
    int[][] o = new int[n][n];
    for (int r = 0; r < n; r++) for (int k = 0; k < n; k++) o[r][k] = n - 1 - k;
    return o;
  }

  static int[][] shuffledOrders(int n, Random rnd) {
    int[][] o = new int[n][];
    for (int r = 0; r < n; r++) {
      List<Integer> l = new ArrayList<>();
      for (int k = 0; k < n; k++) l.add(k);
      Collections.shuffle(l, rnd);
      o[r] = l.stream().mapToInt(Integer::intValue).toArray();
    }
    return o;
  }

  /** What a contiguous ring rank does: earlier blocks NONE, its own CAUSAL, later ones skipped. */
  static BiFunction<Integer, Integer, Mask> contiguousMasks(int[] bounds) {
    return (r, s) -> s < r ? Mask.none() : s == r ? Mask.causal() : null;
  }

  /** The general form: causal by absolute offsets for every pair (later blocks come out fully masked). */
  static BiFunction<Integer, Integer, Mask> offsetMasks(int[] bounds) {
    return (r, s) -> Mask.causal(bounds[r], bounds[s]);
  }

  static BiFunction<Integer, Integer, Mask> positionMasks(int[][] rows) {
    return (r, s) -> Mask.positions(rows[r], rows[s]);
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 4})
  void contiguousRingInAnyArrivalOrderEqualsFullAttention(int n) {
    Random rnd = new Random(74 + n);
    try (Compute cx = new Compute(2, new ScalarGemm())) {
      for (int[] s : new int[][] {{2, 130, 3, 5}, {1, 65, 2, 7}, {1, 203, 2, 6}}) {
        int B = s[0], T = s[1], NH = s[2], C = NH * s[3];
        float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
        float[][] want = plain(cx, qkv, dout, B, T, C, NH);
        int[] bounds = split(T, n);
        int[][] rows = contiguous(bounds);
        for (int[][] order : List.of(ringOrders(n), reverseOrders(n), shuffledOrders(n, rnd))) {
          for (int[] tile : new int[][] {{64, 64}, {16, 24}}) {
            String what = Arrays.toString(s) + " n=" + n + " order " + Arrays.deepToString(order)
                + " tiles " + Arrays.toString(tile);
            long[][] t1 = new long[n][n], t2 = new long[n][n];
            float[][] got = ring(cx, qkv, dout, B, T, C, NH, rows, order, contiguousMasks(bounds), tile[0], tile[1], t1);
            assertClose("out " + what, got[0], toDouble(want[0]), OUT_TOL);
            assertClose("dqkv " + what, got[1], toDouble(want[1]), GRAD_TOL);
            // causal-by-offsets for every pair: NONE and CAUSAL are its special cases, so the same bits,
            // and the blocks of later ranks cost nothing (all tiles skipped)
            float[][] gen = ring(cx, qkv, dout, B, T, C, NH, rows, order, offsetMasks(bounds), tile[0], tile[1], t2);
            assertBitIdentical("out offsets " + what, gen[0], got[0]);
            assertBitIdentical("dqkv offsets " + what, gen[1], got[1]);
            for (int r = 0; r < n; r++) {
              for (int k = 0; k < n; k++) {
                long full = (long) B * NH * ceil(bounds[r + 1] - bounds[r], tile[0]) * ceil(bounds[k + 1] - bounds[k], tile[1]);
                if (k > r) assertThat(t2[r][k]).as("later block skipped").isZero();
                if (k < r) assertThat(t2[r][k]).as("earlier block all visible").isEqualTo(full);
                assertThat(t2[r][k]).isEqualTo(t1[r][k]);
              }
            }
          }
        }
      }
    }
  }

  private static long ceil(int a, int b) {
    return (a + b - 1) / b;
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 4})
  void loadBalancedAndStripedLayoutsEqualFullAttention(int n) {
    Random rnd = new Random(76 + n);
    try (Compute cx = new Compute(2, new ScalarGemm())) {
      for (int[] s : new int[][] {{2, 130, 2, 5}, {1, 257, 3, 7}}) {
        int B = s[0], T = s[1], NH = s[2], C = NH * s[3];
        float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
        float[][] want = plain(cx, qkv, dout, B, T, C, NH);
        // load-balanced (zigzag): 2n chunks, rank r holds chunks r and 2n-1-r
        int[] b2 = split(T, 2 * n);
        int[][] zig = new int[n][];
        for (int r = 0; r < n; r++) {
          int[] lo = contiguous(b2)[r], hi = contiguous(b2)[2 * n - 1 - r];
          zig[r] = new int[lo.length + hi.length];
          System.arraycopy(lo, 0, zig[r], 0, lo.length);
          System.arraycopy(hi, 0, zig[r], lo.length, hi.length);
        }
        // striped: rank r holds positions r, r+n, r+2n, ...
        int[][] stripe = new int[n][];
        for (int r = 0; r < n; r++) stripe[r] = java.util.stream.IntStream.iterate(r, t -> t < T, t -> t + n).toArray();
        for (int[][] rows : List.of(zig, stripe)) {
          for (int[] tile : new int[][] {{64, 64}, {16, 16}}) {
            long[][] tiles = new long[n][n];
            float[][] got = ring(cx, qkv, dout, B, T, C, NH, rows, ringOrders(n), positionMasks(rows),
                tile[0], tile[1], tiles);
            String what = Arrays.toString(s) + " n=" + n + (rows == zig ? " zigzag" : " striped")
                + " tiles " + Arrays.toString(tile);
            assertClose("out " + what, got[0], toDouble(want[0]), OUT_TOL);
            assertClose("dqkv " + what, got[1], toDouble(want[1]), GRAD_TOL);
            long[] perRank = Arrays.stream(tiles).mapToLong(t -> Arrays.stream(t).sum()).toArray();
            System.out.println(what + ": tiles computed per rank " + Arrays.toString(perRank));
          }
        }
      }
    }
  }

  @Test
  void mergingTwoPartialStatesEqualsOneRunningState() {
    Random rnd = new Random(78);
    int B = 2, T = 100, NH = 2, C = NH * 6, cut = 37;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0);
    View q = View.q(qkv, T, C), k = View.k(qkv, T, C), v = View.v(qkv, T, C);
    int S = B * NH * T;
    try (Compute cx = one()) {
      float[] o1 = new float[B * T * C], m1 = new float[S], l1 = new float[S], lse1 = new float[S];
      float[] o2 = new float[B * T * C], m2 = new float[S], l2 = new float[S], lse2 = new float[S];
      View v1 = View.dense(o1, T, C), v2 = View.dense(o2, T, C);
      BlockAttention.init(v1, m1, l1, B, T, C, NH);
      BlockAttention.init(v2, m2, l2, B, T, C, NH);
      // state 1 sees keys [0, cut), state 2 keys [cut, T); queries are all T rows
      BlockAttention.accumulate(cx, v1, m1, l1, q, k, v, B, T, cut, C, NH, Mask.causal(0, 0));
      BlockAttention.accumulate(cx, v2, m2, l2, q, k.rows(cut), v.rows(cut), B, T, T - cut, C, NH, Mask.causal(0, cut));
      BlockAttention.merge(v1, m1, l1, v2, m2, l2, B, T, C, NH);
      BlockAttention.finish(v1, m1, l1, lse1, B, T, C, NH);
      float[] out = new float[B * T * C];
      BlockAttention.forward(cx, out, lse2, qkv, B, T, C, NH);
      assertClose("merged out", o1, toDouble(out), OUT_TOL);
      assertClose("merged lse", lse1, toDouble(lse2), 1e-6);
    }
  }

  @Test
  void rowsThatSeeNoKeyFinishToZeroWithMinusInfinityLseAndContributeNoGradient() {
    Random rnd = new Random(81);
    int B = 2, Tq = 20, Tk = 30, NH = 2, C = NH * 5, S = B * NH * Tq;
    float[] q = randn(rnd, B * Tq * C, 1.0), kv = randn(rnd, B * Tk * 2 * C, 1.0), go = randn(rnd, B * Tq * C, 1.0);
    View qv = View.dense(q, Tq, C), kvK = new View(kv, 0, Tk * 2 * C, 2 * C), kvV = new View(kv, C, Tk * 2 * C, 2 * C);
    float[] o = randn(rnd, B * Tq * C, 1.0), m = new float[S], l = new float[S], lse = new float[S];
    View ov = View.dense(o, Tq, C);
    try (Compute cx = one()) {
      BlockAttention.init(ov, m, l, B, Tq, C, NH);
      // queries at positions 0..19, keys at 10..39: rows 0..9 see nothing, row i >= 10 sees i - 9 keys
      long t = BlockAttention.accumulate(cx, ov, m, l, qv, kvK, kvV, B, Tq, Tk, C, NH, Mask.causal(0, 10), 8, 8);
      assertThat(t).isEqualTo((long) B * NH * (1 + 2)); // query tiles [8,16) and [16,20) see key tile [0,8)/[8,16)
      BlockAttention.finish(ov, m, l, lse, B, Tq, C, NH);
      float[] D = new float[S], dq = new float[B * Tq * C], dkv = new float[kv.length];
      BlockAttention.rowDot(cx, D, ov, View.dense(go, Tq, C), B, Tq, C, NH);
      BlockAttention.backward(cx, View.dense(dq, Tq, C), new View(dkv, 0, Tk * 2 * C, 2 * C),
          new View(dkv, C, Tk * 2 * C, 2 * C), View.dense(go, Tq, C), lse, D, qv, kvK, kvV, B, Tq, Tk, C, NH,
          Mask.causal(0, 10), 8, 8);
      for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
          for (int i = 0; i < Tq; i++) {
            float L = lse[(b * NH + h) * Tq + i];
            if (i < 10) assertThat(L).isEqualTo(Float.NEGATIVE_INFINITY);
            else assertThat(L).isFinite();
          }
        }
        for (int i = 0; i < Tq; i++) {
          for (int c = 0; c < C; c++) {
            float got = o[(b * Tq + i) * C + c], g = dq[(b * Tq + i) * C + c];
            assertThat(got).isFinite();
            assertThat(g).isFinite();
            if (i < 10) {
              assertThat(got).isZero();
              assertThat(g).isZero();
            }
          }
        }
        // keys at positions >= 30 (rows j >= 20) are seen by no query
        for (int j = 0; j < Tk; j++) {
          for (int c = 0; c < 2 * C; c++) {
            float g = dkv[(b * Tk + j) * 2 * C + c];
            assertThat(g).isFinite();
            if (j >= 20) assertThat(g).isZero();
          }
        }
      }
    }
  }

  @Test
  void masksRejectDecreasingPositionsAndMismatchedLengths() {
    assertThatThrownBy(() -> Mask.positions(new int[] {0, 2, 1}, new int[] {0}))
        .isInstanceOf(IllegalArgumentException.class);
    Mask m = Mask.positions(new int[] {0, 1}, new int[] {0, 1, 2});
    float[] a = new float[3 * 6];
    View x = View.dense(a, 3, 6);
    assertThatThrownBy(() -> BlockAttention.accumulate(one(), x, new float[2], new float[2], x, x, x, 1, 3, 3, 6, 1, m))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------------------------------------------
  // determinism

  @Test
  void oneAndTwoThreadsAndRerunsAreBitIdentical() {
    Random rnd = new Random(79);
    int B = 2, T = 150, NH = 3, C = NH * 7;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
    int[] bounds = split(T, 4);
    int[][] b2 = contiguous(split(T, 4));
    int[][] zig = {concat(b2[0], b2[3]), concat(b2[1], b2[2])};
    float[][] first = null;
    for (int run = 0; run < 4; run++) {
      // 1 thread, 2 threads, 2 threads again; then 1 thread again (after the JIT has compiled more)
      try (Compute cx = new Compute(run == 1 || run == 2 ? 2 : 1, new VectorGemm())) {
        float[] out = new float[B * T * C], lse = new float[B * NH * T], d = new float[qkv.length];
        BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH);
        BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, C, NH);
        float[][] ring = ring(cx, qkv, dout, B, T, C, NH, contiguous(bounds), ringOrders(4),
            contiguousMasks(bounds), 64, 64, null);
        float[][] lb = ring(cx, qkv, dout, B, T, C, NH, zig, ringOrders(2), positionMasks(zig), 32, 32, null);
        float[][] now = {out, lse, d, ring[0], ring[1], lb[0], lb[1]};
        if (first == null) first = now;
        else {
          String[] names = {"out", "lse", "dqkv", "ring out", "ring dqkv", "zigzag out", "zigzag dqkv"};
          for (int i = 0; i < now.length; i++) assertBitIdentical(names[i] + " run " + run, now[i], first[i]);
        }
      }
    }
  }

  private static int[] concat(int[] a, int[] b) {
    int[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  @Test
  void reportsTheErrorAgainstThePlainKernel() {
    Random rnd = new Random(80);
    int B = 1, T = 130, NH = 2, C = NH * 13;
    float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
    try (Compute cx = one()) {
      float[][] want = plain(cx, qkv, dout, B, T, C, NH);
      float[] out = new float[B * T * C], lse = new float[B * NH * T], d = new float[qkv.length];
      BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH);
      BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, C, NH);
      System.out.printf("blockwise vs plain, T=130: out rel err %.2e, dqkv rel err %.2e%n",
          relErr(out, want[0]), relErr(d, want[1]));
    }
  }
}
