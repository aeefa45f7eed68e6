package dev.weft.kernels;

import dev.weft.parallel.Parallelism;
import jdk.incubator.vector.FloatVector;

/**
 * Blockwise multi-head attention with the online softmax (FlashAttention-2 style, Dao 2023): no T x T
 * score matrix is ever held, only one Bq x Bk tile of scores per thread. It is both a drop-in causal
 * self-attention ({@link #forward(Compute, float[], float[], float[], int, int, int, int)} /
 * {@link #backward(Compute, float[], float[], float[], float[], float[], int, int, int, int)}, same
 * qkv [B,T,3C] and out [B,T,C] layouts as the plain kernel, saving lse [B,NH,T] instead of att) and the
 * set of building blocks that ring attention (Liu et al. 2023) and its load-balanced / striped variants
 * (Brandon et al. 2023) need: attention of a block of queries against a separate block of keys/values
 * under an explicit {@link Mask}, merged into a running state.
 *
 * <p><b>Math</b>, per head, scale = 1/sqrt(hs), s_ij = scale q_i.k_j over the visible keys j of query i.
 * Running state per query row: m (max so far), l (sum of e^(s - m) so far), o (unnormalised output,
 * sum of e^(s - m) v_j). For a new tile of keys with row max mt:
 * <pre>
 *   m' = max(m, mt);  alpha = e^(m - m');  P_ij = e^(s_ij - m')
 *   l' = alpha l + sum_j P_ij;             o' = alpha o + P v
 * </pre>
 * and finally out = o / l, lse = m + log l. Two partial states over disjoint key sets merge the same way:
 * m = max(m1, m2), l = e^(m1-m) l1 + e^(m2-m) l2, o = e^(m1-m) o1 + e^(m2-m) o2 ({@link #merge}).
 * Backward, with dO given and the final out and lse: D_i = dO_i . out_i, then per tile, recomputing
 * P_ij = e^(s_ij - lse_i): dv_j += P^T dO, dP = dO v^T, dS = P * (dP - D) * scale, dq_i += dS k,
 * dk_j += dS^T q. Because P is computed against the final lse, the backward of any key block is
 * independent of the others: a ring rank calls it once per K/V block, in any order, and the sum of the
 * contributions is the full gradient.
 *
 * <p><b>Layouts.</b> Activations are passed as {@link View}s: element (b, t, h, d) of a view with
 * heads inside is at {@code off + b*batchStride + t*rowStride + h*hs + d}. So the q, k, v of a qkv
 * [B,T,3C] tensor are {@code View.q/k/v(qkv, T, C)} (offsets 0, C, 2C, row stride 3C), a separate
 * [B,Tc,C] chunk is {@code View.dense(a, Tc, C)} and a packed k|v buffer [B,Tc,2C] is
 * {@code new View(kv, 0, Tc*2C, 2C)} / {@code new View(kv, C, Tc*2C, 2C)}. Row statistics (m, l, lse, D)
 * are dense float[B*NH*Tq], index (b*NH + h)*Tq + i.
 *
 * <p><b>Masks.</b> Query row i has an absolute position pq(i), key row j a position pk(j); under a causal
 * mask key j is visible to query i iff pk(j) <= pq(i). Positions must be non-decreasing (so the visible
 * keys of a row are a prefix of every key tile and the last query of a tile sees the most); tiles whose
 * last query sees no key are skipped, and the loop over key tiles stops at the first such tile.
 *
 * <p><b>Ring recipe</b> (rank r of n holds rows [t0, t0+Tc) as qkv_r [B,Tc,3C]; K/V travel packed as
 * kv [B,Tc,2C]): {@code init(out, m, l)}; for each arriving block s (any order) {@code accumulate(out, m, l,
 * q_r, k_s, v_s, mask)} with {@code Mask.none()} for s < r, {@code Mask.causal()} for s == r (or
 * {@code Mask.causal(t0_r, t0_s)} for any s: later blocks then cost nothing), skipping s > r; then
 * {@code finish(out, m, l, lse)}. Backward: {@code rowDot(D, out, dout)}, then for each arriving block
 * {@code backward(dq_r, dk_s, dv_s, dout, lse, D, q_r, k_s, v_s, mask)}, with dk_s/dv_s travelling with
 * k_s/v_s and ending at their owner. A load-balanced rank holding chunks i and 2n-1-i can either pass
 * them as one query block with {@link Mask#positions} or, cheaper (tiles do not straddle the two
 * chunks), call the kernels once per (query chunk, key chunk) pair with {@link View#rows} and offset
 * masks.
 *
 * <p><b>Parallelism and determinism.</b> Forward and accumulate are parallel over (b, h, query tile),
 * backward over (b, h); inside, each unit is serial with {@link Compute#serial()} gemms in a fixed order,
 * writes only its own rows/columns, so results are bit-identical for any thread count and across reruns.
 * (A ring result depends on the order the K/V blocks are merged in, as any float sum does; for a fixed
 * order it is reproducible.) Transcendentals are {@link Vec#exp} and {@link StrictMath#log}. Memory
 * beyond the inputs/outputs: the O(T) row statistics plus, per thread, two Bq x Bk tiles and O(Bq) rows.
 */
public final class BlockAttention {
  /** Default query rows per tile (128 x 128 measured faster than 64 x 64 with the vector gemm). */
  public static final int BQ = 128;
  /** Default key rows per tile. */
  public static final int BK = 128;

  private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

  private BlockAttention() {}

  /**
   * A strided view of a [B, T, width] activation: element (b, t, c) is at
   * {@code data[off + b*batchStride + t*rowStride + c]}; heads sit inside at c = h*hs + d.
   */
  public record View(float[] data, int off, int batchStride, int rowStride) {
    /** A dense [B, T, width] array. */
    public static View dense(float[] a, int T, int width) {
      return new View(a, 0, T * width, width);
    }

    /** The q part of qkv [B, T, 3C]. */
    public static View q(float[] qkv, int T, int C) {
      return new View(qkv, 0, T * 3 * C, 3 * C);
    }

    /** The k part of qkv [B, T, 3C]. */
    public static View k(float[] qkv, int T, int C) {
      return new View(qkv, C, T * 3 * C, 3 * C);
    }

    /** The v part of qkv [B, T, 3C]. */
    public static View v(float[] qkv, int T, int C) {
      return new View(qkv, 2 * C, T * 3 * C, 3 * C);
    }

    /** The q part of a fused q|k|v [B, T, (q + 2 kv) dim] of {@code h}. */
    public static View q(float[] qkv, int T, Heads h) {
      return new View(qkv, 0, T * h.qkvWidth(), h.qkvWidth());
    }

    /** The k part of a fused q|k|v [B, T, (q + 2 kv) dim] of {@code h}. */
    public static View k(float[] qkv, int T, Heads h) {
      return new View(qkv, h.qWidth(), T * h.qkvWidth(), h.qkvWidth());
    }

    /** The v part of a fused q|k|v [B, T, (q + 2 kv) dim] of {@code h}. */
    public static View v(float[] qkv, int T, Heads h) {
      return new View(qkv, h.qWidth() + h.kvWidth(), T * h.qkvWidth(), h.qkvWidth());
    }

    /** The same view starting at row t0 (a contiguous chunk of rows of a longer sequence). */
    public View rows(int t0) {
      return new View(data, off + t0 * rowStride, batchStride, rowStride);
    }

    int at(int b, int t) {
      return off + b * batchStride + t * rowStride;
    }
  }

  /**
   * Which keys each query sees. {@link #none()}: all (keys from an earlier chunk). Causal forms: key j
   * visible to query i iff pk(j) <= pq(i), with pq(i) = qPos0 + i, pk(j) = kPos0 + j for contiguous
   * chunks ({@link #causal(int, int)}; {@link #causal()} is the same chunk), or explicit non-decreasing
   * position arrays ({@link #positions(int[], int[])}, e.g. a load-balanced rank holding two chunks, or
   * striped positions r, r+n, r+2n, ...).
   */
  public static final class Mask {
    private final boolean causal;
    private final int qPos0;
    private final int kPos0;
    private final int[] posQ;
    private final int[] posK;

    private Mask(boolean causal, int qPos0, int kPos0, int[] posQ, int[] posK) {
      this.causal = causal;
      this.qPos0 = qPos0;
      this.kPos0 = kPos0;
      this.posQ = posQ;
      this.posK = posK;
    }

    /** Every key visible to every query. */
    public static Mask none() {
      return new Mask(false, 0, 0, null, null);
    }

    /** Queries and keys are the same chunk: key j visible to query i iff j <= i. */
    public static Mask causal() {
      return causal(0, 0);
    }

    /** Contiguous chunks starting at absolute positions qPos0 (queries) and kPos0 (keys). */
    public static Mask causal(int qPos0, int kPos0) {
      return new Mask(true, qPos0, kPos0, null, null);
    }

    /** Explicit absolute positions of the query rows and key rows, each non-decreasing. */
    public static Mask positions(int[] posQ, int[] posK) {
      checkNonDecreasing("posQ", posQ);
      checkNonDecreasing("posK", posK);
      return new Mask(true, 0, 0, posQ.clone(), posK.clone());
    }

    private static void checkNonDecreasing(String what, int[] p) {
      for (int i = 1; i < p.length; i++) {
        if (p[i] < p[i - 1]) throw new IllegalArgumentException(what + " must be non-decreasing at " + i);
      }
    }

    /** Number of keys in [j0, j1) visible to query i; they are always keys j0 .. j0 + result - 1. */
    int visible(int i, int j0, int j1) {
      if (!causal) return j1 - j0;
      if (posQ == null) {
        long lim = (long) qPos0 + i - kPos0 + 1 - j0;
        return (int) Math.max(0, Math.min(j1 - j0, lim));
      }
      int pq = posQ[i];
      int lo = j0, hi = j1; // first j in [j0, j1) with posK[j] > pq
      while (lo < hi) {
        int mid = (lo + hi) >>> 1;
        if (posK[mid] <= pq) lo = mid + 1;
        else hi = mid;
      }
      return lo - j0;
    }

    void check(int Tq, int Tk) {
      if (posQ != null && (posQ.length != Tq || posK.length != Tk)) {
        throw new IllegalArgumentException("mask positions are " + posQ.length + " x " + posK.length
            + " but the blocks are " + Tq + " x " + Tk);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Full causal self-attention (drop-in for Attention, without the T x T matrix)

  /**
   * out [B,T,C] = causal attention of qkv [B,T,3C]; lse [B,NH,T] = per-row log-sum-exp of the scaled
   * scores, saved for {@link #backward}. Returns the number of Bq x Bk tiles computed (over all b, h).
   */
  public static long forward(Compute cx, float[] out, float[] lse, float[] qkv, int B, int T, int C, int NH) {
    return forward(cx, out, lse, qkv, B, T, Heads.mha(C, NH), BQ, BK);
  }

  /**
   * Grouped-query form: out [B,T,q dim] = causal attention of qkv [B,T,(q + 2 kv) dim] (q | k | v), query
   * head h reading K/V head h / group; lse [B,q,T].
   */
  public static long forward(Compute cx, float[] out, float[] lse, float[] qkv, int B, int T, Heads h) {
    return forward(cx, out, lse, qkv, B, T, h, BQ, BK);
  }

  static long forward(Compute cx, float[] out, float[] lse, float[] qkv, int B, int T, int C, int NH,
                      int bq, int bk) {
    return forward(cx, out, lse, qkv, B, T, Heads.mha(C, NH), bq, bk);
  }

  static long forward(Compute cx, float[] out, float[] lse, float[] qkv, int B, int T, Heads h, int bq, int bk) {
    View o = View.dense(out, T, h.qWidth());
    // lse doubles as the running max m; l lives in per-thread scratch
    return forwardImpl(cx, o, lse, null, View.q(qkv, T, h), View.k(qkv, T, h), View.v(qkv, T, h),
        B, T, T, h, Mask.causal(), bq, bk, true);
  }

  /**
   * Accumulates into dqkv [B,T,3C] the gradient of causal attention given dout [B,T,C] and the forward's
   * out and lse. Returns the number of tiles computed.
   */
  public static long backward(Compute cx, float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                              int B, int T, int C, int NH) {
    return backward(cx, dqkv, dout, qkv, out, lse, B, T, Heads.mha(C, NH), BQ, BK);
  }

  /** Grouped-query form of the above: dqkv and qkv [B,T,(q + 2 kv) dim], dout and out [B,T,q dim]. */
  public static long backward(Compute cx, float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                              int B, int T, Heads h) {
    return backward(cx, dqkv, dout, qkv, out, lse, B, T, h, BQ, BK);
  }

  static long backward(Compute cx, float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                       int B, int T, int C, int NH, int bq, int bk) {
    return backward(cx, dqkv, dout, qkv, out, lse, B, T, Heads.mha(C, NH), bq, bk);
  }

  static long backward(Compute cx, float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                       int B, int T, Heads h, int bq, int bk) {
    int w = h.qWidth();
    return backwardImpl(cx, View.q(dqkv, T, h), View.k(dqkv, T, h), View.v(dqkv, T, h), View.dense(dout, T, w),
        lse, null, View.dense(out, T, w), View.q(qkv, T, h), View.k(qkv, T, h), View.v(qkv, T, h),
        B, T, T, h, Mask.causal(), bq, bk);
  }

  // ---------------------------------------------------------------------------------------------------
  // Ring building blocks: running state (out, m, l) over Tq query rows, fed K/V blocks one at a time

  /** Starts a running state: out [B,Tq,C] (through the view) = 0, m [B,NH,Tq] = -inf, l = 0. */
  public static void init(View out, float[] m, float[] l, int B, int Tq, int C, int NH) {
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < Tq; t++) Vec.zero(out.data, out.at(b, t), C);
    }
    java.util.Arrays.fill(m, 0, B * NH * Tq, Float.NEGATIVE_INFINITY);
    java.util.Arrays.fill(l, 0, B * NH * Tq, 0f);
  }

  /**
   * Merges into the running state (out, m, l) of the Tq query rows q the attention to one block of Tk
   * keys/values (k, v) under {@code mask}. Call once per K/V block, in any order, then {@link #finish}.
   * Returns the number of tiles computed (fully masked tiles are skipped).
   */
  public static long accumulate(Compute cx, View out, float[] m, float[] l, View q, View k, View v,
                                int B, int Tq, int Tk, int C, int NH, Mask mask) {
    return accumulate(cx, out, m, l, q, k, v, B, Tq, Tk, Heads.mha(C, NH), mask, BQ, BK);
  }

  /** Grouped-query form: q and out have h.q heads, k and v h.kv heads, each h.dim wide. */
  public static long accumulate(Compute cx, View out, float[] m, float[] l, View q, View k, View v,
                                int B, int Tq, int Tk, Heads h, Mask mask) {
    return accumulate(cx, out, m, l, q, k, v, B, Tq, Tk, h, mask, BQ, BK);
  }

  static long accumulate(Compute cx, View out, float[] m, float[] l, View q, View k, View v,
                         int B, int Tq, int Tk, int C, int NH, Mask mask, int bq, int bk) {
    return accumulate(cx, out, m, l, q, k, v, B, Tq, Tk, Heads.mha(C, NH), mask, bq, bk);
  }

  static long accumulate(Compute cx, View out, float[] m, float[] l, View q, View k, View v,
                         int B, int Tq, int Tk, Heads h, Mask mask, int bq, int bk) {
    mask.check(Tq, Tk);
    return forwardImpl(cx, out, m, l, q, k, v, B, Tq, Tk, h, mask, bq, bk, false);
  }

  /**
   * Ends a running state: out = out / l and lse = m + log(l) (lse may be m itself). A row that saw no
   * key gets out = 0 and lse = -inf (its backward contributes nothing).
   */
  public static void finish(View out, float[] m, float[] l, float[] lse, int B, int Tq, int C, int NH) {
    int hs = C / NH;
    for (int bh = 0; bh < B * NH; bh++) {
      int b = bh / NH, h = bh % NH;
      for (int i = 0; i < Tq; i++) {
        int si = bh * Tq + i;
        finishRow(out.data, out.at(b, i) + h * hs, hs, m, si, l[si], lse);
      }
    }
  }

  private static void finishRow(float[] o, int oOff, int hs, float[] m, int si, float l, float[] lse) {
    if (l > 0f) {
      Vec.scale(o, oOff, hs, 1f / l);
      lse[si] = (float) (m[si] + StrictMath.log(l));
    } else {
      Vec.zero(o, oOff, hs);
      lse[si] = Float.NEGATIVE_INFINITY;
    }
  }

  /**
   * Merges a second running state (out2, m2, l2), computed over a disjoint set of keys for the same
   * queries, into (out, m, l): m = max(m, m2), l = e^(m-m') l + e^(m2-m') l2, out likewise.
   */
  public static void merge(View out, float[] m, float[] l, View out2, float[] m2, float[] l2,
                           int B, int Tq, int C, int NH) {
    int hs = C / NH;
    for (int bh = 0; bh < B * NH; bh++) {
      int b = bh / NH, h = bh % NH;
      for (int i = 0; i < Tq; i++) {
        int si = bh * Tq + i;
        float mn = Math.max(m[si], m2[si]);
        if (mn == Float.NEGATIVE_INFINITY) continue; // neither saw a key
        float a1 = Vec.exp(m[si] - mn), a2 = Vec.exp(m2[si] - mn);
        int o1 = out.at(b, i) + h * hs, o2 = out2.at(b, i) + h * hs;
        for (int d = 0; d < hs; d++) out.data[o1 + d] = a1 * out.data[o1 + d] + a2 * out2.data[o2 + d];
        l[si] = a1 * l[si] + a2 * l2[si];
        m[si] = mn;
      }
    }
  }

  /** D [B,NH,Tq] = per-head row dot products dout . out, the softmax-backward term for {@link #backward}. */
  public static void rowDot(Compute cx, float[] D, View out, View dout, int B, int Tq, int C, int NH) {
    int hs = C / NH;
    cx.parallelFor(B * NH, 1, (from, to) -> {
      for (int bh = from; bh < to; bh++) {
        int b = bh / NH, h = bh % NH;
        for (int i = 0; i < Tq; i++) {
          D[bh * Tq + i] = Vec.dot(dout.data, dout.at(b, i) + h * hs, out.data, out.at(b, i) + h * hs, hs);
        }
      }
    });
  }

  /**
   * The gradient contribution of one K/V block: accumulates dq (for the Tq query rows of q) and dk, dv
   * (for the Tk rows of k, v), given dout of the queries, lse of the final merged forward and
   * D = {@link #rowDot}(out, dout) of the final out. Same mask as the forward used for this block.
   * Returns the number of tiles computed.
   */
  public static long backward(Compute cx, View dq, View dk, View dv, View dout, float[] lse, float[] D,
                              View q, View k, View v, int B, int Tq, int Tk, int C, int NH, Mask mask) {
    return backward(cx, dq, dk, dv, dout, lse, D, q, k, v, B, Tq, Tk, Heads.mha(C, NH), mask, BQ, BK);
  }

  /** Grouped-query form: dq, dout, q have h.q heads; dk, dv, k, v h.kv heads. */
  public static long backward(Compute cx, View dq, View dk, View dv, View dout, float[] lse, float[] D,
                              View q, View k, View v, int B, int Tq, int Tk, Heads h, Mask mask) {
    return backward(cx, dq, dk, dv, dout, lse, D, q, k, v, B, Tq, Tk, h, mask, BQ, BK);
  }

  static long backward(Compute cx, View dq, View dk, View dv, View dout, float[] lse, float[] D,
                       View q, View k, View v, int B, int Tq, int Tk, int C, int NH, Mask mask, int bq, int bk) {
    return backward(cx, dq, dk, dv, dout, lse, D, q, k, v, B, Tq, Tk, Heads.mha(C, NH), mask, bq, bk);
  }

  static long backward(Compute cx, View dq, View dk, View dv, View dout, float[] lse, float[] D,
                       View q, View k, View v, int B, int Tq, int Tk, Heads h, Mask mask, int bq, int bk) {
    mask.check(Tq, Tk);
    return backwardImpl(cx, dq, dk, dv, dout, lse, D, null, q, k, v, B, Tq, Tk, h, mask, bq, bk);
  }

  /** Tiles of size bq x bk a causal T x T attention computes: pairs of tiles with a visible entry. */
  public static long causalTiles(int T, int bq, int bk) {
    long n = 0;
    for (int i0 = 0; i0 < T; i0 += bq) {
      int last = Math.min(T, i0 + bq) - 1;
      n += last / bk + 1;
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------------
  // Kernels

  private static float[] scratch(int n) {
    float[] s = SCRATCH.get();
    if (s.length < n) {
      s = new float[n];
      SCRATCH.set(s);
    }
    return s;
  }

  /**
   * Forward over query tiles in parallel. If {@code full}, m is the lse array (finished in place), l is
   * ignored, out is zeroed here and finished per query tile; otherwise (m, l, out) is a running state.
   */
  private static long forwardImpl(Compute cx, View out, float[] m, float[] l, View q, View k, View v,
                                  int B, int Tq, int Tk, Heads heads, Mask mask, int bq, int bk, boolean full) {
    if (B <= 0 || Tq <= 0) return 0;
    int hs = heads.dim(), NH = heads.q(), group = heads.group();
    float scale = (float) (1.0 / Math.sqrt(hs));
    int nqb = (Tq + bq - 1) / bq;
    java.util.concurrent.atomic.AtomicLong tiles = new java.util.concurrent.atomic.AtomicLong();
    cx.parallelFor(B * NH * nqb, 1, (from, to) -> {
      Compute sx = cx.serial();
      float[] s = scratch(bq * bk + bq);
      int lOff = bq * bk; // full mode: this tile's running l
      long count = 0;
      for (int u = from; u < to; u++) {
        int bh = u / nqb, b = bh / NH, h = bh % NH;
        int i0 = (u % nqb) * bq, i1 = Math.min(Tq, i0 + bq);
        int sOff = bh * Tq + i0;
        if (full) {
          for (int i = i0; i < i1; i++) Vec.zero(out.data, out.at(b, i) + h * hs, hs);
          java.util.Arrays.fill(m, sOff, sOff + (i1 - i0), Float.NEGATIVE_INFINITY);
          java.util.Arrays.fill(s, lOff, lOff + (i1 - i0), 0f);
          count += forwardTile(sx, out, m, s, sOff, lOff, q, k, v, b, h, h / group, hs, i0, i1, Tk, mask, scale, s,
              bk);
          for (int i = i0; i < i1; i++) {
            finishRow(out.data, out.at(b, i) + h * hs, hs, m, sOff + i - i0, s[lOff + i - i0], m);
          }
        } else {
          count += forwardTile(sx, out, m, l, sOff, sOff, q, k, v, b, h, h / group, hs, i0, i1, Tk, mask, scale, s,
              bk);
        }
      }
      tiles.addAndGet(count);
    });
    return tiles.get();
  }

  /**
   * One query tile [i0, i1) of head (b, h) against all key tiles of [0, Tk): the online-softmax update of
   * rows m[mOff..], l[lOff..] and the unnormalised out. Returns the number of key tiles computed.
   */
  private static long forwardTile(Compute sx, View out, float[] m, float[] l, int mOff, int lOff,
                                  View q, View k, View v, int b, int h, int kvh, int hs, int i0, int i1, int Tk,
                                  Mask mask, float scale, float[] s, int bk) {
    int rows = i1 - i0;
    int qo = q.at(b, i0) + h * hs;
    int oo = out.at(b, i0) + h * hs;
    long count = 0;
    for (int j0 = 0; j0 < Tk; j0 += bk) {
      int j1 = Math.min(Tk, j0 + bk);
      int w = j1 - j0;
      if (mask.visible(i1 - 1, j0, j1) == 0) break; // positions non-decreasing: later tiles are masked too
      count++;
      // S = q k^T (rows x w)
      sx.gemm(false, true, rows, w, hs, q.data, qo, q.rowStride, k.data, k.at(b, j0) + kvh * hs, k.rowStride,
          0f, s, 0, w);
      for (int r = 0; r < rows; r++) {
        int p = r * w;
        int n = mask.visible(i0 + r, j0, j1);
        if (n == 0) {
          Vec.zero(s, p, w);
          continue;
        }
        float mOld = m[mOff + r];
        float mNew = Math.max(mOld, Vec.max(s, p, n) * scale); // scale > 0: max(scale s) = scale max(s)
        float sum = expRow(s, p, n, scale, mNew);
        Vec.zero(s, p + n, w - n);
        if (mNew != mOld) {
          float alpha = Vec.exp(mOld - mNew); // 0 when mOld = -inf
          l[lOff + r] = alpha * l[lOff + r] + sum;
          Vec.scale(out.data, oo + r * out.rowStride, hs, alpha);
          m[mOff + r] = mNew;
        } else {
          l[lOff + r] += sum;
        }
      }
      // out += P v
      sx.gemm(false, false, rows, hs, w, s, 0, w, v.data, v.at(b, j0) + kvh * hs, v.rowStride,
          1f, out.data, oo, out.rowStride);
    }
    return count;
  }

  /**
   * Backward, parallel over (b, h). If {@code D} is null it is computed per query tile from {@code out}
   * and dout (full self-attention); otherwise D is given.
   */
  private static long backwardImpl(Compute cx, View dq, View dk, View dv, View dout, float[] lse, float[] D,
                                   View out, View q, View k, View v, int B, int Tq, int Tk, Heads heads,
                                   Mask mask, int bq, int bk) {
    if (B <= 0 || Tq <= 0 || Tk <= 0) return 0;
    int hs = heads.dim(), NH = heads.q(), KV = heads.kv(), group = heads.group();
    float scale = (float) (1.0 / Math.sqrt(hs));
    java.util.concurrent.atomic.AtomicLong tiles = new java.util.concurrent.atomic.AtomicLong();
    // Parallel over (b, K/V head): the query heads sharing a K/V head add into its dk, dv in a fixed order.
    cx.parallelFor(B * KV, 1, (from, to) -> {
      Compute sx = cx.serial();
      int tile = bq * bk;
      float[] s = scratch(2 * tile + bq);
      int dsOff = tile, dOff = 2 * tile;
      long count = 0;
      for (int bkv = from; bkv < to; bkv++) {
        int b = bkv / KV, kvh = bkv % KV;
        int kc0 = kvh * hs;
        for (int h = kvh * group; h < (kvh + 1) * group; h++) {
          int bh = b * NH + h;
          int c0 = h * hs;
          for (int i0 = 0; i0 < Tq; i0 += bq) {
            int i1 = Math.min(Tq, i0 + bq);
            int rows = i1 - i0;
            int sOff = bh * Tq + i0;
            float[] dd;
            int ddOff;
            if (D == null) {
              for (int r = 0; r < rows; r++) {
                s[dOff + r] = Vec.dot(dout.data, dout.at(b, i0 + r) + c0, out.data, out.at(b, i0 + r) + c0, hs);
              }
              dd = s;
              ddOff = dOff;
            } else {
              dd = D;
              ddOff = sOff;
            }
            int qo = q.at(b, i0) + c0, go = dout.at(b, i0) + c0, dqo = dq.at(b, i0) + c0;
            for (int j0 = 0; j0 < Tk; j0 += bk) {
              int j1 = Math.min(Tk, j0 + bk);
              int w = j1 - j0;
              if (mask.visible(i1 - 1, j0, j1) == 0) break;
              count++;
              int ko = k.at(b, j0) + kc0, vo = v.at(b, j0) + kc0;
              // P = exp(scale q k^T - lse), masked
              sx.gemm(false, true, rows, w, hs, q.data, qo, q.rowStride, k.data, ko, k.rowStride, 0f, s, 0, w);
              for (int r = 0; r < rows; r++) {
                int p = r * w;
                int n = mask.visible(i0 + r, j0, j1);
                float L = lse[sOff + r];
                if (L == Float.NEGATIVE_INFINITY) n = 0;
                if (n > 0) expRow(s, p, n, scale, L);
                Vec.zero(s, p + n, w - n);
              }
              // dv += P^T dO
              sx.gemm(true, false, w, hs, rows, s, 0, w, dout.data, go, dout.rowStride,
                  1f, dv.data, dv.at(b, j0) + kc0, dv.rowStride);
              // dP = dO v^T
              sx.gemm(false, true, rows, w, hs, dout.data, go, dout.rowStride, v.data, vo, v.rowStride,
                  0f, s, dsOff, w);
              // dS = P (dP - D) scale
              for (int r = 0; r < rows; r++) {
                softmaxGrad(s, dsOff + r * w, s, r * w, w, dd[ddOff + r], scale);
              }
              // dq += dS k ; dk += dS^T q
              sx.gemm(false, false, rows, hs, w, s, dsOff, w, k.data, ko, k.rowStride,
                  1f, dq.data, dqo, dq.rowStride);
              sx.gemm(true, false, w, hs, rows, s, dsOff, w, q.data, qo, q.rowStride,
                  1f, dk.data, dk.at(b, j0) + kc0, dk.rowStride);
            }
          }
        }
      }
      tiles.addAndGet(count);
    });
    return tiles.get();
  }

  /** a[off+j] = exp(a[off+j] * scale - shift) for j in [0, n); returns their sum (fixed order). */
  private static float expRow(float[] a, int off, int n, float scale, float shift) {
    int j = 0;
    int ub = Vec.bound(n);
    FloatVector sh = FloatVector.broadcast(Vec.S, shift);
    FloatVector acc = FloatVector.zero(Vec.S);
    for (; j < ub; j += Vec.L) {
      FloatVector e = Vec.exp(FloatVector.fromArray(Vec.S, a, off + j).mul(scale).sub(sh));
      e.intoArray(a, off + j);
      acc = acc.add(e);
    }
    float sum = Vec.sumLanes(acc);
    for (; j < n; j++) {
      float e = Vec.exp(a[off + j] * scale - shift);
      a[off + j] = e;
      sum += e;
    }
    return sum;
  }

  /** ds[d+j] = p[pOff+j] * (ds[d+j] - dot) * scale for j in [0, n). */
  private static void softmaxGrad(float[] ds, int d, float[] p, int pOff, int n, float dot, float scale) {
    int j = 0;
    int ub = Vec.bound(n);
    FloatVector dv = FloatVector.broadcast(Vec.S, dot);
    for (; j < ub; j += Vec.L) {
      FloatVector g = FloatVector.fromArray(Vec.S, ds, d + j).sub(dv);
      g.mul(FloatVector.fromArray(Vec.S, p, pOff + j)).mul(scale).intoArray(ds, d + j);
    }
    for (; j < n; j++) ds[d + j] = (ds[d + j] - dot) * p[pOff + j] * scale;
  }
}
