package dev.weft.comm;

import java.time.Duration;

/**
 * Collective and point-to-point communication within one group of ranks (created by
 * {@link Backend#group}). Ranks and peers are positions in the group, 0..size()-1.
 *
 * <p>Rules: every member issues the same collectives in the same order, with the same lengths.
 * Blocking forms return when this rank's part is done. Async forms return a {@link Handle}; async ops
 * of one communicator run in issue order on its own comm thread (so compute can overlap), and a
 * blocking op issued while async ops are pending runs after them. One caller thread per communicator.
 * {@code send} never waits for the matching {@code recv} (the data is buffered), so sendAsync runs at
 * once; receives are matched in order per (peer, tag). Every wait is bounded by {@link #timeout()};
 * a timeout, a dead or failed peer, or garbage ends the op with a {@link CommException} naming the
 * op, the group and the peer. Groups of size 1 short-circuit (copies only).
 *
 * <p>Uneven lengths: the {@code counts} variants of reduceScatter and allGather take an explicit
 * element count per group rank; rank i's chunk sits at offset counts[0] + ... + counts[i-1].
 */
public interface Communicator extends AutoCloseable {
  /** This rank's position in the group. */
  int rank();

  /** The number of ranks in the group. */
  int size();

  /** The group's members as global ranks, sorted; {@code globalRanks()[rank()]} is this rank. */
  int[] globalRanks();

  /** The bound on every wait. */
  Duration timeout();

  /** Bytes and time per operation kind, for metrics. */
  CommStats stats();

  /** buf[off, off+len) := op over all ranks' buf[off, off+len), identical on every rank. */
  void allReduce(float[] buf, int off, int len, ReduceOp op);

  /** out[outOff, +chunk) := op over all ranks of in[inOff + rank()*chunk, +chunk); in holds size()*chunk. */
  void reduceScatter(float[] in, int inOff, float[] out, int outOff, int chunk, ReduceOp op);

  /** Uneven reduce-scatter: out[outOff, +counts[rank()]) := op over all ranks of my chunk of in. */
  void reduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op);

  /** out[outOff + i*chunk, +chunk) := rank i's in[inOff, +chunk), for every i. */
  void allGather(float[] in, int inOff, float[] out, int outOff, int chunk);

  /** Uneven all-gather: rank i's counts[i] elements land at outOff + counts[0] + ... + counts[i-1]. */
  void allGather(float[] in, int inOff, float[] out, int outOff, int[] counts);

  /** buf[off, +len) := root's buf[off, +len). */
  void broadcast(float[] buf, int off, int len, int root);

  /** Sends buf[off, +len) to group rank {@code peer}; does not wait for the receiver. */
  void send(float[] buf, int off, int len, int peer, int tag);

  /** Receives exactly len elements from group rank {@code peer}, the next message with this tag. */
  void recv(float[] buf, int off, int len, int peer, int tag);

  /** out[outOff + i*chunk, +chunk) := rank i's in[inOff + rank()*chunk, +chunk). in and out must not overlap. */
  void allToAll(float[] in, int inOff, float[] out, int outOff, int chunk);

  /** Returns once every rank of the group has entered the barrier. */
  void barrier();

  Handle allReduceAsync(float[] buf, int off, int len, ReduceOp op);

  Handle reduceScatterAsync(float[] in, int inOff, float[] out, int outOff, int chunk, ReduceOp op);

  Handle reduceScatterAsync(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op);

  Handle allGatherAsync(float[] in, int inOff, float[] out, int outOff, int chunk);

  Handle allGatherAsync(float[] in, int inOff, float[] out, int outOff, int[] counts);

  Handle broadcastAsync(float[] buf, int off, int len, int root);

  Handle sendAsync(float[] buf, int off, int len, int peer, int tag);

  Handle recvAsync(float[] buf, int off, int len, int peer, int tag);

  Handle allToAllAsync(float[] in, int inOff, float[] out, int outOff, int chunk);

  Handle barrierAsync();

  /** Stops the comm thread (pending async ops finish first). */
  @Override
  void close();

  /** counts for {@code total} elements split as evenly as possible: the first total % n ranks get one more. */
  static int[] evenCounts(long total, int n) {
    int[] c = new int[n];
    for (int i = 0; i < n; i++) c[i] = (int) (total / n + (i < total % n ? 1 : 0));
    return c;
  }

  /** Offsets of the chunks described by {@code counts}: prefix sums, with one extra entry for the total. */
  static long[] offsets(int[] counts) {
    long[] o = new long[counts.length + 1];
    for (int i = 0; i < counts.length; i++) o[i + 1] = o[i] + counts[i];
    return o;
  }
}
