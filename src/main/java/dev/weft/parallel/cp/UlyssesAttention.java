package dev.weft.parallel.cp;

import dev.weft.WeftInputException;
import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.BlockAttention.Mask;
import dev.weft.kernels.BlockAttention.View;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Heads;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import java.util.Arrays;

/**
 * DeepSpeed-Ulysses attention (Jacobs et al. 2023) over a context-parallel group of n ranks with the
 * contiguous layout of {@link CpLayout} (rank i holds rows [i Tl, (i+1) Tl), Tl = T / n). Needs the query
 * heads q and the key/value heads kv divisible by n: rank j attends for query heads [j q/n, (j+1) q/n) and
 * their K/V heads [j kv/n, (j+1) kv/n) over the whole sequence (with grouped-query attention a rank's query
 * heads read exactly its own K/V heads). Below, C = q dim is the width of q (and of out), Ckv = kv dim.
 *
 * <p><b>Forward.</b> (1) all-to-all: rank i sends to rank j the columns of head group j of its q, k, v rows
 * ([B,Tl,(C + 2Ckv)/n]); every rank then holds the full-sequence, head-split qkvH [B,T,(C + 2Ckv)/n] (rows in position
 * order, since rank order is position order). (2) {@link BlockAttention#forward} on it: causal
 * attention of NH/n heads of width hs = C/NH, without a T x T matrix; its lse is the caller's lse array,
 * here laid out [B, NH/n, T] (B NH Tl floats, the same count as the ring's). (3) all-to-all back: rank j
 * sends rows [i Tl, (i+1) Tl) of its outH [B,T,C/n] to rank i, which writes them into columns of head
 * group j of out [B,Tl,C].
 *
 * <p><b>Backward</b> mirrors it and keeps no state between calls: D = rowDot(dout, out) [B,NH,Tl] is
 * computed locally on the sequence-split side, then one all-to-all carries q|k|v|dout|D of each head group
 * (the head-split qkv is re-gathered instead of kept from forward), {@link BlockAttention#backward} with
 * the causal mask computes dqkvH [B,T,(C + 2Ckv)/n], and a last all-to-all returns the rows of every rank, added
 * into the head-group columns of dqkv [B,Tl,C + 2Ckv].
 *
 * <p><b>Bytes moved per call</b>, per rank, float32, each all-to-all keeping 1/n of its data local:
 * forward (n-1)/n x B Tl (C + 2Ckv + C) x 4; backward (n-1)/n x B Tl (2 (C + 2Ckv) + C + q) x 4. Unlike the ring it
 * does not overlap communication with compute. <b>Memory</b>: transient buffers taken from the rank's
 * {@link BufferPool} (charged to its device) and given back as soon as they are used, at most
 * {@link #transientFloats} at once (send, receive and the head-split copy of backward's re-gather).
 */
public final class UlyssesAttention implements CpAttention {
  /** Throws a {@link WeftInputException} unless the query and key/value heads split over n ranks. */
  public static void checkHeads(Heads h, int n) {
    if (h.q() % n != 0 || h.kv() % n != 0) {
      throw new WeftInputException("all-to-all (Ulysses) context parallelism gives each of cp=" + n
          + " ranks an equal share of the attention heads, so the query heads and the key/value heads (per "
          + "tensor-parallel rank) must be divisible by cp; got " + h.q() + " query and " + h.kv() + " key/value heads."
          + " Use a cp dividing both, or --cp-attention ring.");
    }
  }

  /** Multi-head form of {@link #checkHeads(Heads, int)}: NH heads. */
  public static void checkHeads(int NH, int n) {
    checkHeads(new Heads(NH, NH, 1), n);
  }

  private static void checkLayout(ContextParallel cp, int B, int Tl, Heads h, int[] positions) {
    int n = cp.size();
    checkHeads(h, n);
    if (positions.length != Tl) {
      throw new IllegalArgumentException("positions has " + positions.length + " entries but Tl=" + Tl);
    }
    for (int t = 0; t < Tl; t++) {
      if (positions[t] != cp.rank() * Tl + t) {
        throw new IllegalArgumentException("Ulysses needs the contiguous layout: rank " + cp.rank() + " must hold "
            + "positions [" + cp.rank() * Tl + ", " + (cp.rank() + 1) * Tl + ")");
      }
    }
  }

  private final BufferPool pool;

  /** Buffers from {@code pool} (charged to its device while a call runs). */
  public UlyssesAttention(BufferPool pool) {
    this.pool = pool;
  }

  /** Buffers on an unlimited device of their own (benchmarks, tests of the arithmetic). */
  public UlyssesAttention() {
    this(new BufferPool(DeviceMemory.unlimited("ulysses attention")));
  }

  /**
   * Peak floats a call holds (N = B Tl): backward's re-gather, 3 x N (2C + 2Ckv + q) for the send, receive and
   * head-split copies of q|k|v|dout|D, plus D [q N]: 6NC + 6N Ckv + 4 q N (12NC + 4 NH N for multi-head).
   * Forward peaks at 3N (C + 2Ckv) (the same three copies of q|k|v).
   */
  public static long transientFloats(int B, int Tl, Heads h) {
    long N = (long) B * Tl;
    return 6 * N * h.qWidth() + 6 * N * h.kvWidth() + 4 * N * h.q();
  }

  /** Multi-head form: 12NC + 4 NH N. */
  public static long transientFloats(int B, int Tl, int C, int NH) {
    return transientFloats(B, Tl, Heads.mha(C, NH));
  }

  @Override
  public void forward(Compute cx, ContextParallel cp, float[] out, float[] lse, float[] qkv, int B, int Tl, Heads h,
                      int[] positions) {
    checkLayout(cp, B, Tl, h, positions);
    int n = cp.size();
    if (n == 1) {
      BlockAttention.forward(cx, out, lse, qkv, B, Tl, h);
      return;
    }
    try (BufferPool.Lease held = pool.lease("cp.ulysses.")) {
      int T = Tl * n, C = h.qWidth();
      Heads hn = h.split(n);
      int qcn = hn.qWidth();
      float[] qkvH = gatherHeads(cp, held, qkv, null, null, B, Tl, h);
      float[] outH = held.take("out_heads", B * T * qcn);
      BlockAttention.forward(cx, outH, lse, qkvH, B, T, hn);
      held.give(qkvH);
      // rows of rank i -> rank i; received from rank j: head group j
      int chunk = B * Tl * qcn;
      float[] send = held.take("send", n * chunk), recv = held.take("recv", n * chunk);
      for (int i = 0; i < n; i++) {
        for (int b = 0; b < B; b++) {
          System.arraycopy(outH, (b * T + i * Tl) * qcn, send, i * chunk + b * Tl * qcn, Tl * qcn);
        }
      }
      cp.group().allToAll(send, 0, recv, 0, chunk);
      for (int j = 0; j < n; j++) {
        for (int row = 0; row < B * Tl; row++) {
          System.arraycopy(recv, j * chunk + row * qcn, out, row * C + j * qcn, qcn);
        }
      }
    }
  }

  @Override
  public void backward(Compute cx, ContextParallel cp, float[] dqkv, float[] dout, float[] qkv, float[] out,
                       float[] lse, int B, int Tl, Heads h, int[] positions) {
    checkLayout(cp, B, Tl, h, positions);
    int n = cp.size();
    if (n == 1) {
      BlockAttention.backward(cx, dqkv, dout, qkv, out, lse, B, Tl, h);
      return;
    }
    try (BufferPool.Lease held = pool.lease("cp.ulysses.")) {
      int T = Tl * n, C = h.qWidth(), NH = h.q();
      Heads hn = h.split(n);
      int qcn = hn.qWidth(), kvcn = hn.kvWidth(), wqkv = hn.qkvWidth(), nhn = hn.q();
      float[] D = held.take("row_dot", B * NH * Tl);
      BlockAttention.rowDot(cx, D, View.dense(out, Tl, C), View.dense(dout, Tl, C), B, Tl, C, NH);
      // rows of [q|k|v|dout|D] of this rank's head group over the whole sequence; split them out
      float[] packed = gatherHeads(cp, held, qkv, dout, D, B, Tl, h);
      held.give(D);
      int w = wqkv + qcn + nhn;
      float[] qkvH = held.take("qkv_heads", B * T * wqkv);
      float[] doutH = held.take("dout_heads", B * T * qcn);
      float[] DH = held.take("row_dot_heads", B * nhn * T);
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
          int src = (b * T + t) * w;
          System.arraycopy(packed, src, qkvH, (b * T + t) * wqkv, wqkv);
          System.arraycopy(packed, src + wqkv, doutH, (b * T + t) * qcn, qcn);
          for (int hh = 0; hh < nhn; hh++) DH[(b * nhn + hh) * T + t] = packed[src + wqkv + qcn + hh];
        }
      }
      held.give(packed);
      float[] dqkvH = held.take("dqkv_heads", B * T * wqkv);
      Arrays.fill(dqkvH, 0, B * T * wqkv, 0f);
      BlockAttention.backward(cx, View.q(dqkvH, T, hn), View.k(dqkvH, T, hn), View.v(dqkvH, T, hn),
          View.dense(doutH, T, qcn), lse, DH, View.q(qkvH, T, hn), View.k(qkvH, T, hn), View.v(qkvH, T, hn),
          B, T, T, hn, Mask.causal());
      held.give(qkvH);
      held.give(doutH);
      held.give(DH);
      int chunk = B * Tl * wqkv;
      float[] send = held.take("send", n * chunk), recv = held.take("recv", n * chunk);
      for (int i = 0; i < n; i++) {
        for (int b = 0; b < B; b++) {
          System.arraycopy(dqkvH, (b * T + i * Tl) * wqkv, send, i * chunk + b * Tl * wqkv, Tl * wqkv);
        }
      }
      cp.group().allToAll(send, 0, recv, 0, chunk);
      int rowW = h.qkvWidth(), kvW = h.kvWidth();
      for (int j = 0; j < n; j++) {
        for (int row = 0; row < B * Tl; row++) {
          int src = j * chunk + row * wqkv, dst = row * rowW;
          addInto(dqkv, dst + j * qcn, recv, src, qcn);
          addInto(dqkv, dst + C + j * kvcn, recv, src + qcn, kvcn);
          addInto(dqkv, dst + C + kvW + j * kvcn, recv, src + qcn + kvcn, kvcn);
        }
      }
    }
  }

  private static void addInto(float[] a, int aOff, float[] b, int bOff, int len) {
    for (int c = 0; c < len; c++) a[aOff + c] += b[bOff + c];
  }

  /**
   * The sequence-to-head all-to-all: returns [B, T, w] where row t holds, for this rank's head group, q|k|v
   * ((C + 2Ckv)/n) and, if dout is given, dout (C/n) and D (q/n) of the token at position t. The result is
   * one of {@code held}; the send and receive buffers are given back.
   */
  private static float[] gatherHeads(ContextParallel cp, BufferPool.Lease held, float[] qkv, float[] dout, float[] D,
                                     int B, int Tl, Heads h) {
    int n = cp.size(), T = Tl * n;
    Heads hn = h.split(n);
    int qcn = hn.qWidth(), kvcn = hn.kvWidth(), wqkv = hn.qkvWidth(), nhn = hn.q(), NH = h.q();
    int C = h.qWidth(), kvW = h.kvWidth(), rowW = h.qkvWidth();
    int w = dout == null ? wqkv : wqkv + qcn + nhn;
    int chunk = B * Tl * w;
    float[] send = held.take("send", n * chunk), recv = held.take("recv", n * chunk);
    for (int j = 0; j < n; j++) {
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tl; t++) {
          int row = b * Tl + t, dst = j * chunk + row * w, src = row * rowW;
          System.arraycopy(qkv, src + j * qcn, send, dst, qcn);
          System.arraycopy(qkv, src + C + j * kvcn, send, dst + qcn, kvcn);
          System.arraycopy(qkv, src + C + kvW + j * kvcn, send, dst + qcn + kvcn, kvcn);
          if (dout != null) {
            System.arraycopy(dout, row * C + j * qcn, send, dst + wqkv, qcn);
            for (int hh = 0; hh < nhn; hh++) send[dst + wqkv + qcn + hh] = D[(b * NH + j * nhn + hh) * Tl + t];
          }
        }
      }
    }
    cp.group().allToAll(send, 0, recv, 0, chunk);
    float[] full = held.take("heads", B * T * w);
    for (int i = 0; i < n; i++) {
      for (int b = 0; b < B; b++) {
        System.arraycopy(recv, i * chunk + b * Tl * w, full, (b * T + i * Tl) * w, Tl * w);
      }
    }
    held.give(send);
    held.give(recv);
    return full;
  }
}
