package dev.weft.parallel.cp;

import dev.weft.WeftInputException;
import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.BlockAttention.Mask;
import dev.weft.kernels.BlockAttention.View;
import dev.weft.kernels.Compute;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import java.util.Arrays;

/**
 * DeepSpeed-Ulysses attention (Jacobs et al. 2023) over a context-parallel group of n ranks with the
 * contiguous layout of {@link CpLayout} (rank i holds rows [i Tl, (i+1) Tl), Tl = T / n). Needs NH % n == 0:
 * rank j attends for the heads [j NH/n, (j+1) NH/n) over the whole sequence.
 *
 * <p><b>Forward.</b> (1) all-to-all: rank i sends to rank j the columns of head group j of its q, k, v rows
 * ([B,Tl,3C/n]); every rank then holds the full-sequence, head-split qkvH [B,T,3C/n] (rows in position
 * order, since rank order is position order). (2) {@link BlockAttention#forward} on it: causal
 * attention of NH/n heads of width hs = C/NH, without a T x T matrix; its lse is the caller's lse array,
 * here laid out [B, NH/n, T] (B NH Tl floats, the same count as the ring's). (3) all-to-all back: rank j
 * sends rows [i Tl, (i+1) Tl) of its outH [B,T,C/n] to rank i, which writes them into columns of head
 * group j of out [B,Tl,C].
 *
 * <p><b>Backward</b> mirrors it and keeps no state between calls: D = rowDot(dout, out) [B,NH,Tl] is
 * computed locally on the sequence-split side, then one all-to-all carries q|k|v|dout|D of each head group
 * (the head-split qkv is re-gathered instead of kept from forward), {@link BlockAttention#backward} with
 * the causal mask computes dqkvH [B,T,3C/n], and a last all-to-all returns the rows of every rank, added
 * into the head-group columns of dqkv [B,Tl,3C].
 *
 * <p><b>Bytes moved per call</b>, per rank, float32, each all-to-all keeping 1/n of its data local:
 * forward (n-1)/n x B Tl (3C + C) x 4; backward (n-1)/n x B Tl (3C + C + NH + 3C) x 4. Unlike the ring it
 * does not overlap communication with compute. <b>Memory</b>: transient buffers taken from the rank's
 * {@link BufferPool} (charged to its device) and given back as soon as they are used, at most
 * {@link #transientFloats} at once (send, receive and the head-split copy of backward's re-gather).
 */
public final class UlyssesAttention implements CpAttention {
  /** Throws a {@link WeftInputException} unless NH heads split over n ranks. */
  public static void checkHeads(int NH, int n) {
    if (NH % n != 0) {
      throw new WeftInputException("all-to-all (Ulysses) context parallelism gives each of cp=" + n
          + " ranks an equal share of the attention heads, so the number of heads must be divisible by cp; got "
          + NH + " heads. Use cp dividing " + NH + " or the ring algorithm.");
    }
  }

  private static void checkLayout(ContextParallel cp, int B, int Tl, int C, int NH, int[] positions) {
    int n = cp.size();
    checkHeads(NH, n);
    if (C % NH != 0) throw new IllegalArgumentException("C=" + C + " is not a multiple of NH=" + NH);
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
   * Peak floats a call holds (N = B Tl): backward's re-gather, 3 x (4NC + NH N) for the send, receive and
   * head-split copies of q|k|v|dout|D, plus D [NH N]: 12NC + 4 NH N. Forward peaks at 9NC (the same three
   * copies of q|k|v).
   */
  public static long transientFloats(int B, int Tl, int C, int NH) {
    long N = (long) B * Tl;
    return 12 * N * C + 4 * N * NH;
  }

  @Override
  public void forward(Compute cx, ContextParallel cp, float[] out, float[] lse, float[] qkv, int B, int Tl, int C,
                      int NH, int[] positions) {
    checkLayout(cp, B, Tl, C, NH, positions);
    int n = cp.size();
    if (n == 1) {
      BlockAttention.forward(cx, out, lse, qkv, B, Tl, C, NH);
      return;
    }
    try (BufferPool.Lease held = pool.lease("cp.ulysses.")) {
      int T = Tl * n, cn = C / n, nhn = NH / n;
      float[] qkvH = gatherHeads(cp, held, qkv, null, null, B, Tl, C, NH);
      float[] outH = held.take("out_heads", B * T * cn);
      BlockAttention.forward(cx, outH, lse, qkvH, B, T, cn, nhn);
      held.give(qkvH);
      // rows of rank i -> rank i; received from rank j: head group j
      int chunk = B * Tl * cn;
      float[] send = held.take("send", n * chunk), recv = held.take("recv", n * chunk);
      for (int i = 0; i < n; i++) {
        for (int b = 0; b < B; b++) {
          System.arraycopy(outH, (b * T + i * Tl) * cn, send, i * chunk + b * Tl * cn, Tl * cn);
        }
      }
      cp.group().allToAll(send, 0, recv, 0, chunk);
      for (int j = 0; j < n; j++) {
        for (int row = 0; row < B * Tl; row++) {
          System.arraycopy(recv, j * chunk + row * cn, out, row * C + j * cn, cn);
        }
      }
    }
  }

  @Override
  public void backward(Compute cx, ContextParallel cp, float[] dqkv, float[] dout, float[] qkv, float[] out,
                       float[] lse, int B, int Tl, int C, int NH, int[] positions) {
    checkLayout(cp, B, Tl, C, NH, positions);
    int n = cp.size();
    if (n == 1) {
      BlockAttention.backward(cx, dqkv, dout, qkv, out, lse, B, Tl, C, NH);
      return;
    }
    try (BufferPool.Lease held = pool.lease("cp.ulysses.")) {
      int T = Tl * n, cn = C / n, nhn = NH / n;
      float[] D = held.take("row_dot", B * NH * Tl);
      BlockAttention.rowDot(cx, D, View.dense(out, Tl, C), View.dense(dout, Tl, C), B, Tl, C, NH);
      // rows of [q|k|v|dout|D] of this rank's head group over the whole sequence; split them out
      float[] packed = gatherHeads(cp, held, qkv, dout, D, B, Tl, C, NH);
      held.give(D);
      int w = 4 * cn + nhn;
      float[] qkvH = held.take("qkv_heads", B * T * 3 * cn);
      float[] doutH = held.take("dout_heads", B * T * cn);
      float[] DH = held.take("row_dot_heads", B * nhn * T);
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
          int src = (b * T + t) * w;
          System.arraycopy(packed, src, qkvH, (b * T + t) * 3 * cn, 3 * cn);
          System.arraycopy(packed, src + 3 * cn, doutH, (b * T + t) * cn, cn);
          for (int hh = 0; hh < nhn; hh++) DH[(b * nhn + hh) * T + t] = packed[src + 4 * cn + hh];
        }
      }
      held.give(packed);
      float[] dqkvH = held.take("dqkv_heads", B * T * 3 * cn);
      Arrays.fill(dqkvH, 0, B * T * 3 * cn, 0f);
      BlockAttention.backward(cx, View.q(dqkvH, T, cn), View.k(dqkvH, T, cn), View.v(dqkvH, T, cn),
          View.dense(doutH, T, cn), lse, DH, View.q(qkvH, T, cn), View.k(qkvH, T, cn), View.v(qkvH, T, cn),
          B, T, T, cn, nhn, Mask.causal());
      held.give(qkvH);
      held.give(doutH);
      held.give(DH);
      int chunk = B * Tl * 3 * cn;
      float[] send = held.take("send", n * chunk), recv = held.take("recv", n * chunk);
      for (int i = 0; i < n; i++) {
        for (int b = 0; b < B; b++) {
          System.arraycopy(dqkvH, (b * T + i * Tl) * 3 * cn, send, i * chunk + b * Tl * 3 * cn, Tl * 3 * cn);
        }
      }
      cp.group().allToAll(send, 0, recv, 0, chunk);
      for (int j = 0; j < n; j++) {
        for (int row = 0; row < B * Tl; row++) {
          for (int part = 0; part < 3; part++) {
            int src = j * chunk + row * 3 * cn + part * cn, dst = row * 3 * C + part * C + j * cn;
            for (int c = 0; c < cn; c++) dqkv[dst + c] += recv[src + c];
          }
        }
      }
    }
  }

  /**
   * The sequence-to-head all-to-all: returns [B, T, w] where row t holds, for this rank's head group, q|k|v
   * (3C/n) and, if dout is given, dout (C/n) and D (NH/n) of the token at position t: w = 3C/n, or
   * 4C/n + NH/n. The result is one of {@code held}; the send and receive buffers are given back.
   */
  private static float[] gatherHeads(ContextParallel cp, BufferPool.Lease held, float[] qkv, float[] dout, float[] D,
                                     int B, int Tl, int C, int NH) {
    int n = cp.size(), T = Tl * n, cn = C / n, nhn = NH / n;
    int w = dout == null ? 3 * cn : 4 * cn + nhn;
    int chunk = B * Tl * w;
    float[] send = held.take("send", n * chunk), recv = held.take("recv", n * chunk);
    for (int j = 0; j < n; j++) {
      for (int b = 0; b < B; b++) {
        for (int t = 0; t < Tl; t++) {
          int row = b * Tl + t, dst = j * chunk + row * w;
          for (int part = 0; part < 3; part++) {
            System.arraycopy(qkv, row * 3 * C + part * C + j * cn, send, dst + part * cn, cn);
          }
          if (dout != null) {
            System.arraycopy(dout, row * C + j * cn, send, dst + 3 * cn, cn);
            for (int hh = 0; hh < nhn; hh++) send[dst + 4 * cn + hh] = D[(b * NH + j * nhn + hh) * Tl + t];
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
