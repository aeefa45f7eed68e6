package dev.weft.parallel.cp;

import dev.weft.comm.Communicator;
import dev.weft.comm.Handle;
import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.BlockAttention.Mask;
import dev.weft.kernels.BlockAttention.View;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Heads;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import java.util.Arrays;

/**
 * Ring attention (Liu et al. 2023) over a context-parallel group of n ranks, with the load-balanced
 * layout of {@link CpLayout} (each rank holds chunks i and 2n-1-i); the contiguous layout works too (it is
 * what the benchmark compares against). Exact causal attention, equal to the single-device kernel up to
 * float rounding.
 *
 * <p><b>Forward.</b> Rank r packs its keys/values as kv [B,Tl,2C] (k|v per row). In step k = 0..n-1 it
 * holds the kv block of rank s = (r - k) mod n; before computing on it, it posts the receive of the next
 * block from rank r-1 and sends the block in hand to rank r+1, so the transfer overlaps the attention; it
 * waits for the transfer only after the compute. The attention of a step is done per (query chunk, key
 * chunk) pair, chunks being those of the layout (two of T/(2n) per rank in the balanced layout, one of
 * T/n in the contiguous one; so no tile straddles two): a key chunk entirely after the query chunk is skipped (fully masked), one entirely
 * before it uses {@link Mask#none()}, the diagonal one a causal mask by absolute offsets. Each query chunk
 * keeps an online-softmax running state (out, m, l) merged by {@link BlockAttention#accumulate} and closed
 * by {@link BlockAttention#finish}; lse [B,NH,Tl] (index (b NH + h) Tl + t) is saved for backward.
 *
 * <p><b>Backward.</b> D = rowDot(dout, out) per chunk. The kv blocks go around the ring again (n-1 hops,
 * prefetched as in forward) and each block's gradient accumulator dkv [B,Tl,2C] follows it one step
 * behind: in step k a rank computes block s's contribution into a zeroed local dkv (and its own dq
 * directly into dqkv), receives the partial dkv of block s from rank r-1 (posted before the compute),
 * adds it, and sends the sum to rank r+1. After n hops the dkv of every block is back at its owner, which
 * adds it to the k|v part of dqkv. The sum for a block is formed in a fixed rank order, so results are
 * bit-identical across runs and thread counts.
 *
 * <p><b>Bytes moved per call</b> (per rank, float32): forward (n-1) x B Tl 2C x 4 sent and received;
 * backward (n-1) x B Tl 2C x 4 of kv plus n x B Tl 2C x 4 of dkv. Tags: {@link #TAG_FWD_KV},
 * {@link #TAG_BWD_KV}, {@link #TAG_BWD_DKV}, matched in order per peer, so all ranks must make the same
 * calls in the same order.
 *
 * <p><b>Memory</b>, taken from the rank's {@link BufferPool} (so charged to its device) for the length of
 * a call and given back at its end: two kv ring buffers of B Tl 2C floats (the block in hand and the one
 * arriving) and two row statistics per query chunk (m and l forward, lse and D backward: 2 B NH Tl in
 * all); backward also two dkv buffers of B Tl 2C (local contribution and the arriving partial sum). So
 * 4 B Tl C + 2 B NH Tl floats in forward and 8 B Tl C + 2 B NH Tl in backward ({@link #transientFloats}).
 * Not thread-safe: one instance per rank.
 *
 * <p>{@link #stats()} records per call the time spent waiting for the next K/V block (and, in backward,
 * for the travelling dkv), the time in attention compute, the tiles computed and the (query chunk, key
 * chunk) pairs computed and skipped.
 */
public final class RingAttention implements CpAttention {
  public static final int TAG_FWD_KV = 0x4350_0001;
  public static final int TAG_BWD_KV = 0x4350_0002;
  public static final int TAG_BWD_DKV = 0x4350_0003;

  /** Counters over the calls since the last {@link #reset()}; times in nanoseconds. */
  public static final class Stats {
    long forwardCalls, backwardCalls;
    long forwardWaitNs, forwardComputeNs, backwardWaitNs, backwardComputeNs;
    long forwardTiles, backwardTiles, pairsComputed, pairsSkipped;

    public long forwardCalls() { return forwardCalls; }
    public long backwardCalls() { return backwardCalls; }
    /** Time forward spent blocked on the next K/V block. */
    public long forwardWaitNs() { return forwardWaitNs; }
    /** Time forward spent in the attention kernels (accumulate / finish). */
    public long forwardComputeNs() { return forwardComputeNs; }
    /** Time backward spent blocked on the next K/V block and on the travelling dK/dV. */
    public long backwardWaitNs() { return backwardWaitNs; }
    /** Time backward spent in the attention kernels. */
    public long backwardComputeNs() { return backwardComputeNs; }
    public long waitNs() { return forwardWaitNs + backwardWaitNs; }
    public long computeNs() { return forwardComputeNs + backwardComputeNs; }
    /** BlockAttention tiles computed by forward (all b, h). */
    public long forwardTiles() { return forwardTiles; }
    public long backwardTiles() { return backwardTiles; }
    /** (query chunk, key chunk) pairs computed by forward. */
    public long pairsComputed() { return pairsComputed; }
    /** (query chunk, key chunk) pairs forward skipped as fully masked. */
    public long pairsSkipped() { return pairsSkipped; }

    public void reset() {
      forwardCalls = backwardCalls = 0;
      forwardWaitNs = forwardComputeNs = backwardWaitNs = backwardComputeNs = 0;
      forwardTiles = backwardTiles = pairsComputed = pairsSkipped = 0;
    }

    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT, "ring fwd %d calls wait %.1f ms compute %.1f ms; bwd %d calls wait"
          + " %.1f ms compute %.1f ms; tiles %d/%d; pairs computed %d skipped %d", forwardCalls, forwardWaitNs / 1e6,
          forwardComputeNs / 1e6, backwardCalls, backwardWaitNs / 1e6, backwardComputeNs / 1e6, forwardTiles,
          backwardTiles, pairsComputed, pairsSkipped);
    }
  }

  private final Stats stats = new Stats();
  private final BufferPool pool;

  /** Buffers from {@code pool} (charged to its device while a call runs). */
  public RingAttention(BufferPool pool) {
    this.pool = pool;
  }

  /** Buffers on an unlimited device of their own (benchmarks, tests of the arithmetic). */
  public RingAttention() {
    this(new BufferPool(DeviceMemory.unlimited("ring attention")));
  }

  /**
   * Peak floats a call holds: backward's 4 x B Tl 2Ckv + 2 B q Tl with Ckv = kv dim the K/V width (forward
   * needs 2 x B Tl 2Ckv + 2 B q Tl). Grouped-query attention shrinks the K/V buffers, and the traffic, by
   * kv / q.
   */
  public static long transientFloats(int B, int Tl, Heads h) {
    return 8L * B * Tl * h.kvWidth() + 2L * B * h.q() * Tl;
  }

  /** Multi-head form: 8 B Tl C + 2 B NH Tl. */
  public static long transientFloats(int B, int Tl, int C, int NH) {
    return transientFloats(B, Tl, Heads.mha(C, NH));
  }

  /** The live counters (read them, {@link Stats#reset()} them). */
  public Stats stats() {
    return stats;
  }

  /**
   * A query chunk and two row statistics [B NH len] of it: forward's running max and sum (m, l),
   * backward's log-sum-exp and rowDot (lse, D).
   */
  private record Chunk(int row, int pos, int len, float[] a, float[] b) {}

  private static Chunk[] chunks(int[][] layout, int B, int NH, BufferPool.Lease taken) {
    Chunk[] c = new Chunk[layout.length];
    for (int i = 0; i < layout.length; i++) {
      int n = B * NH * layout[i][2];
      c[i] = new Chunk(layout[i][0], layout[i][1], layout[i][2], taken.take("row_stats", n), taken.take("row_stats", n));
    }
    return c;
  }

  /** The chunks of every rank of the group under the layout of this rank's positions. */
  private static int[][][] layoutChunks(int[] positions, int n, int r) {
    CpLayout.Kind kind = CpLayout.kindOf(positions, n, r);
    int T = positions.length * n;
    int[][][] k = new int[n][][];
    for (int s = 0; s < n; s++) k[s] = CpLayout.chunks(T, n, s, kind);
    return k;
  }

  /** The mask of query chunk q against key chunk k, or null if every key is after every query. */
  private static Mask mask(Chunk q, int[] k) {
    int kFirst = k[1], kLast = k[1] + k[2] - 1;
    if (kFirst > q.pos + q.len - 1) return null;
    if (kLast <= q.pos) return Mask.none();
    return Mask.causal(q.pos, kFirst);
  }

  /** k|v of each row of qkv [B,Tl,(q + 2 kv) dim] into kv [B,Tl,2 kv dim]. */
  private static void packKv(float[] kv, float[] qkv, int B, int Tl, Heads h) {
    int w = h.qkvWidth(), q = h.qWidth(), k2 = 2 * h.kvWidth();
    for (int row = 0; row < B * Tl; row++) System.arraycopy(qkv, row * w + q, kv, row * k2, k2);
  }

  private static void check(float[] a, String what, long need) {
    if (a.length < need) throw new IllegalArgumentException(what + " has " + a.length + " floats, needs " + need);
  }

  @Override
  public void forward(Compute cx, ContextParallel cp, float[] out, float[] lse, float[] qkv, int B, int Tl, Heads h,
                      int[] positions) {
    int n = cp.size(), r = cp.rank();
    checkShapes(out, lse, qkv, B, Tl, h, positions);
    Communicator g = cp.group();
    int[][][] keys = layoutChunks(positions, n, r);
    try (BufferPool.Lease taken = pool.lease("cp.ring.")) {
      forward(cx, g, out, lse, qkv, B, Tl, h, n, r, keys, taken);
    }
  }

  private void forward(Compute cx, Communicator g, float[] out, float[] lse, float[] qkv, int B, int Tl, Heads h,
                       int n, int r, int[][][] keys, BufferPool.Lease taken) {
    int next = (r + 1) % n, prev = (r - 1 + n) % n;
    int C = h.qWidth(), NH = h.q(), KVW = h.kvWidth();
    Chunk[] qs = chunks(keys[r], B, NH, taken);
    int len = B * Tl * 2 * KVW;
    float[][] kvBuf = {taken.take("kv", len), taken.take("kv", len)};
    View outV = View.dense(out, Tl, C), qV = View.q(qkv, Tl, h);
    for (Chunk q : qs) BlockAttention.init(outV.rows(q.row), q.a, q.b, B, q.len, C, NH);
    int cur = 0;
    packKv(kvBuf[0], qkv, B, Tl, h);
    for (int k = 0; k < n; k++) {
      int s = Math.floorMod(r - k, n);
      Handle recv = null, send = null;
      if (k < n - 1) {
        recv = g.recvAsync(kvBuf[1 - cur], 0, len, prev, TAG_FWD_KV);
        send = g.sendAsync(kvBuf[cur], 0, len, next, TAG_FWD_KV);
      }
      long t0 = System.nanoTime();
      View kV = new View(kvBuf[cur], 0, Tl * 2 * KVW, 2 * KVW), vV = new View(kvBuf[cur], KVW, Tl * 2 * KVW, 2 * KVW);
      for (Chunk q : qs) {
        for (int[] kc : keys[s]) {
          Mask mask = mask(q, kc);
          if (mask == null) {
            stats.pairsSkipped++;
            continue;
          }
          stats.pairsComputed++;
          stats.forwardTiles += BlockAttention.accumulate(cx, outV.rows(q.row), q.a, q.b, qV.rows(q.row),
              kV.rows(kc[0]), vV.rows(kc[0]), B, q.len, kc[2], h, mask);
        }
      }
      long t1 = System.nanoTime();
      stats.forwardComputeNs += t1 - t0;
      if (recv != null) {
        recv.await();
        send.await();
        stats.forwardWaitNs += System.nanoTime() - t1;
        cur = 1 - cur;
      }
    }
    long t0 = System.nanoTime();
    for (Chunk q : qs) {
      BlockAttention.finish(outV.rows(q.row), q.a, q.b, q.a, B, q.len, C, NH);
      scatterRows(q.a, lse, q, B * NH, Tl);
    }
    stats.forwardComputeNs += System.nanoTime() - t0;
    stats.forwardCalls++;
  }

  @Override
  public void backward(Compute cx, ContextParallel cp, float[] dqkv, float[] dout, float[] qkv, float[] out,
                       float[] lse, int B, int Tl, Heads h, int[] positions) {
    int n = cp.size(), r = cp.rank();
    checkShapes(out, lse, qkv, B, Tl, h, positions);
    check(dqkv, "dqkv", (long) B * Tl * h.qkvWidth());
    check(dout, "dout", (long) B * Tl * h.qWidth());
    Communicator g = cp.group();
    int[][][] keys = layoutChunks(positions, n, r);
    try (BufferPool.Lease taken = pool.lease("cp.ring.")) {
      backward(cx, g, dqkv, dout, qkv, out, lse, B, Tl, h, n, r, keys, taken);
    }
  }

  private void backward(Compute cx, Communicator g, float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                        int B, int Tl, Heads h, int n, int r, int[][][] keys, BufferPool.Lease taken) {
    int next = (r + 1) % n, prev = (r - 1 + n) % n;
    int C = h.qWidth(), NH = h.q(), KVW = h.kvWidth();
    Chunk[] qs = chunks(keys[r], B, NH, taken);
    int len = B * Tl * 2 * KVW;
    View outV = View.dense(out, Tl, C), goV = View.dense(dout, Tl, C), qV = View.q(qkv, Tl, h);
    View dqV = View.q(dqkv, Tl, h);
    long t0 = System.nanoTime();
    for (Chunk q : qs) {
      gatherRows(lse, q.a, q, B * NH, Tl);
      BlockAttention.rowDot(cx, q.b, outV.rows(q.row), goV.rows(q.row), B, q.len, C, NH);
    }
    stats.backwardComputeNs += System.nanoTime() - t0;
    float[][] kvBuf = {taken.take("kv", len), taken.take("kv", len)};
    float[] dkvLocal = taken.take("dkv", len);
    float[] dkvIn = taken.take("dkv", len);
    int cur = 0;
    packKv(kvBuf[0], qkv, B, Tl, h);
    Handle dSend = null;
    for (int k = 0; k < n; k++) {
      int s = Math.floorMod(r - k, n);
      Handle recv = null, send = null, dRecv = null;
      if (k < n - 1) {
        recv = g.recvAsync(kvBuf[1 - cur], 0, len, prev, TAG_BWD_KV);
        send = g.sendAsync(kvBuf[cur], 0, len, next, TAG_BWD_KV);
      }
      if (k > 0) dRecv = g.recvAsync(dkvIn, 0, len, prev, TAG_BWD_DKV); // block s's partial sum, from r-1
      if (dSend != null) dSend.await(); // the previous step's dkv has left dkvLocal
      long t1 = System.nanoTime();
      Arrays.fill(dkvLocal, 0f);
      View kV = new View(kvBuf[cur], 0, Tl * 2 * KVW, 2 * KVW), vV = new View(kvBuf[cur], KVW, Tl * 2 * KVW, 2 * KVW);
      View dkV = new View(dkvLocal, 0, Tl * 2 * KVW, 2 * KVW), dvV = new View(dkvLocal, KVW, Tl * 2 * KVW, 2 * KVW);
      for (Chunk q : qs) {
        for (int[] kc : keys[s]) {
          Mask mask = mask(q, kc);
          if (mask == null) continue;
          stats.backwardTiles += BlockAttention.backward(cx, dqV.rows(q.row), dkV.rows(kc[0]), dvV.rows(kc[0]),
              goV.rows(q.row), q.a, q.b, qV.rows(q.row), kV.rows(kc[0]), vV.rows(kc[0]), B, q.len, kc[2], h, mask);
        }
      }
      long t2 = System.nanoTime();
      stats.backwardComputeNs += t2 - t1;
      if (recv != null) {
        recv.await();
        send.await();
      }
      if (dRecv != null) dRecv.await();
      long t3 = System.nanoTime();
      stats.backwardWaitNs += t3 - t2;
      if (n > 1) {
        if (dRecv != null) addInto(dkvLocal, dkvIn, len);
        dSend = g.sendAsync(dkvLocal, 0, len, next, TAG_BWD_DKV);
      }
      stats.backwardComputeNs += System.nanoTime() - t3;
      if (recv != null) cur = 1 - cur;
    }
    float[] mine = dkvLocal; // n == 1: our own contribution is the whole gradient
    if (n > 1) {
      dSend.await();
      long t1 = System.nanoTime();
      g.recv(dkvIn, 0, len, prev, TAG_BWD_DKV); // our block's dkv, complete after n hops
      stats.backwardWaitNs += System.nanoTime() - t1;
      mine = dkvIn;
    }
    int w = h.qkvWidth();
    for (int row = 0; row < B * Tl; row++) addInto(dqkv, row * w + C, mine, row * 2 * KVW, 2 * KVW);
    stats.backwardCalls++;
  }

  private static void checkShapes(float[] out, float[] lse, float[] qkv, int B, int Tl, Heads h, int[] positions) {
    if (positions.length != Tl) {
      throw new IllegalArgumentException("positions has " + positions.length + " entries but Tl=" + Tl);
    }
    check(out, "out", (long) B * Tl * h.qWidth());
    check(lse, "lse", (long) B * h.q() * Tl);
    check(qkv, "qkv", (long) B * Tl * h.qkvWidth());
  }

  private static void addInto(float[] a, float[] b, int len) {
    addInto(a, 0, b, 0, len);
  }

  private static void addInto(float[] a, int aOff, float[] b, int bOff, int len) {
    for (int i = 0; i < len; i++) a[aOff + i] += b[bOff + i];
  }

  /** Row statistics of a chunk [BH, len] into the rank's [BH, Tl] at the chunk's rows. */
  private static void scatterRows(float[] chunk, float[] all, Chunk q, int bh, int Tl) {
    for (int i = 0; i < bh; i++) System.arraycopy(chunk, i * q.len, all, i * Tl + q.row, q.len);
  }

  private static void gatherRows(float[] all, float[] chunk, Chunk q, int bh, int Tl) {
    for (int i = 0; i < bh; i++) System.arraycopy(all, i * Tl + q.row, chunk, i * q.len, q.len);
  }
}
