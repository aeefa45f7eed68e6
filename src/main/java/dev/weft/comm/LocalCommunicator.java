package dev.weft.comm;

import java.time.Duration;
import java.util.Arrays;

/**
 * Collectives among threads of one JVM through shared memory, without serialisation. Each member
 * publishes a reference to its array in the group's {@link LocalRendezvous}; then each member computes
 * its own part of the result directly from the peers' arrays, all members in parallel, with a barrier
 * between phases:
 *
 * <ul>
 *   <li>allReduce (len L over n ranks): a fused reduce-scatter + push all-gather in one pass. Member
 *       i reads segment i (about L/n elements) of every member's array, combines it in rank order
 *       0..n-1 with the Vector API, and writes the result straight back into segment i of every
 *       member's array (one read and one write per element per array, no intermediate copy, no
 *       allocation). Two barriers per call: after publishing, and before returning. Each member moves
 *       n x L/n x 4 bytes in and as many out (memory traffic), 2(n-1)/n x L x 4 of it to or from
 *       peers' arrays; every element is computed once, so all ranks hold identical bits.</li>
 *   <li>reduceScatter: member i combines chunk i of all inputs: (n-1) x chunk x 4 bytes read.</li>
 *   <li>allGather: member i copies every other chunk: (total - own) x 4 bytes.</li>
 *   <li>broadcast: non-roots copy from the root: L x 4 bytes. allToAll: (n-1) x chunk x 4 bytes.</li>
 *   <li>send: a copy into the receiver's mailbox (L x 4 bytes); recv takes it.</li>
 * </ul>
 * A final barrier keeps every array published until all members have finished reading it.
 */
final class LocalCommunicator extends AbstractCommunicator {
  /** Elements combined per block when the result goes through the accumulator: it stays in L1. */
  private static final int BLOCK = 2048;

  private final LocalRendezvous rv;
  private final int n;
  private float[] scratch = new float[0];

  LocalCommunicator(LocalRendezvous rv, int myGlobalRank, Duration timeout) {
    super(rv.globalRanks, myGlobalRank, timeout, "local");
    this.rv = rv;
    this.n = rv.n;
  }

  @Override
  protected long doAllReduce(float[] buf, int off, int len, ReduceOp op) throws InterruptedException {
    rv.publishAndArrive(me, buf, off, "allReduce(len " + len + ", " + op + ")");
    long[] seg = Communicator.offsets(Communicator.evenCounts(len, n));
    int from = (int) seg[me];
    int count = (int) (seg[me + 1] - seg[me]);
    reduceInto(null, 0, count, from, op);
    rv.arrive(me);
    return 8L * (n - 1) * count;
  }

  @Override
  protected long doReduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op)
      throws InterruptedException {
    rv.publishAndArrive(me, in, inOff, "reduceScatter(counts " + Arrays.toString(counts) + ", " + op + ")");
    long[] o = Communicator.offsets(counts);
    reduceInto(out, outOff, counts[me], (int) o[me], op);
    rv.arrive(me);
    return 4L * (n - 1) * counts[me];
  }

  @Override
  protected long doAllGather(float[] in, int inOff, float[] out, int outOff, int[] counts) throws InterruptedException {
    rv.publishAndArrive(me, in, inOff, "allGather(counts " + Arrays.toString(counts) + ")");
    long[] o = Communicator.offsets(counts);
    for (int q = 0; q < n; q++) {
      System.arraycopy(rv.arrays[q], rv.offsets[q], out, outOff + (int) o[q], counts[q]);
    }
    rv.arrive(me);
    return 4L * (o[n] - counts[me]);
  }

  @Override
  protected long doBroadcast(float[] buf, int off, int len, int root) throws InterruptedException {
    rv.publishAndArrive(me, buf, off, "broadcast(len " + len + ", root " + root + ")");
    if (me != root) System.arraycopy(rv.arrays[root], rv.offsets[root], buf, off, len);
    rv.arrive(me);
    return me == root ? 0 : 4L * len;
  }

  @Override
  protected long doSend(float[] buf, int off, int len, int peer, int tag) {
    rv.post(me, peer, tag, Arrays.copyOfRange(buf, off, off + len));
    return 4L * len;
  }

  @Override
  protected long doRecv(float[] buf, int off, int len, int peer, int tag) throws InterruptedException {
    float[] m = rv.take(peer, me, tag);
    if (m.length != len) {
      throw new TransportException(ranks[peer], "message with tag " + tag + " from global rank " + ranks[peer]
          + " has " + m.length + " elements but recv expected " + len);
    }
    System.arraycopy(m, 0, buf, off, len);
    return 0;
  }

  @Override
  protected long doAllToAll(float[] in, int inOff, float[] out, int outOff, int chunk) throws InterruptedException {
    rv.publishAndArrive(me, in, inOff, "allToAll(chunk " + chunk + ")");
    for (int q = 0; q < n; q++) {
      System.arraycopy(rv.arrays[q], rv.offsets[q] + me * chunk, out, outOff + q * chunk, chunk);
    }
    rv.arrive(me);
    return 4L * (n - 1) * chunk;
  }

  @Override
  protected long doBarrier() throws InterruptedException {
    rv.publishAndArrive(me, null, 0, "barrier");
    rv.arrive(me);
    return 0;
  }

  /**
   * dst[dstOff, +count) := op over members q = 0..n-1 (in that order) of q's published array at
   * (its offset + srcFrom), vectorised ({@link ReduceKernels}). With dst null, the result is written
   * back into every member's published array at srcFrom in the same pass that reads them (the fused
   * all-reduce: each element of each array read once and written once). With dst non-null, blocks go
   * through the accumulator, so dst may be this rank's own published array.
   */
  private void reduceInto(float[] dst, int dstOff, int count, int srcFrom, ReduceOp op) {
    if (count == 0) return;
    if (scratch.length < BLOCK) scratch = new float[BLOCK];
    if (dst == null) {
      ReduceKernels.allReduceSegment(rv.arrays, rv.offsets, n, srcFrom, count, op, scratch);
      return;
    }
    for (int b = 0; b < count; b += BLOCK) {
      int len = Math.min(BLOCK, count - b);
      ReduceKernels.reduceTo(rv.arrays, rv.offsets, n, srcFrom + b, len, op, scratch, 0);
      System.arraycopy(scratch, 0, dst, dstOff + b, len);
    }
  }
}
