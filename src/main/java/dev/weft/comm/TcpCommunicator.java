package dev.weft.comm;

/**
 * Collectives between processes over the {@link TcpBackend}'s sockets. Every frame carries this
 * group's id and, for collectives, the collective's sequence number, so that groups never mix and
 * ranks out of step are detected. Sends never wait for the receiver (each peer's reader thread
 * drains its socket), so a rank can send and receive at once. Bytes below are what one rank sends,
 * for L elements of 4 bytes over n ranks:
 *
 * <ul>
 *   <li>allReduce, large (over {@link #SMALL_BYTES}): ring reduce-scatter then ring all-gather over n
 *       segments, pipelined in pieces of {@link TcpWire#PIECE} elements: 2(n-1)/n x 4L bytes. Each
 *       segment is summed once, in ring order, so all ranks hold identical bits.</li>
 *   <li>allReduce, small: every rank sends its buffer to every other and combines all n in rank order
 *       0..n-1 (latency-bound regime, one round): (n-1) x 4L bytes.</li>
 *   <li>reduceScatter / allGather (even or uneven counts): one ring pass: (total - own) x 4 bytes.</li>
 *   <li>broadcast: the root sends to each rank directly: (n-1) x 4L bytes from the root.</li>
 *   <li>allToAll: chunk q straight to rank q: (n-1) x 4 x chunk. barrier: an empty frame to everyone.</li>
 *   <li>send/recv: frames of up to PIECE elements, matched in order per (peer, tag).</li>
 * </ul>
 */
final class TcpCommunicator extends AbstractCommunicator {
  /** All-reduces up to this size use the direct (one round) algorithm. */
  static final int SMALL_BYTES = 64 * 1024;

  private final TcpBackend backend;
  private final long groupId;
  private final int n;
  private int seq;

  TcpCommunicator(TcpBackend backend, int[] globalRanks, long groupId) {
    super(globalRanks, backend.rank(), backend.timeout(), "tcp");
    this.backend = backend;
    this.groupId = groupId;
    this.n = globalRanks.length;
  }

  private TcpPeer peer(int groupRank) {
    return backend.peer(ranks[groupRank]);
  }

  private int next() { return (me + 1) % n; }
  private int prev() { return (me + n - 1) % n; }
  private int mod(int i) { return Math.floorMod(i, n); }

  private void sendPiece(int to, CommOp op, int tag, float[] a, int off, int len) {
    peer(to).write(op.ordinal(), groupId, tag, a, off, len);
  }

  private float[] recvPiece(int from, CommOp op, int tag, int len) throws InterruptedException {
    return peer(from).take(groupId, TcpPeer.COLLECTIVE_STREAM, op, tag, len).data();
  }

  private static int pieces(int count) {
    return Math.max(1, (count + TcpWire.PIECE - 1) / TcpWire.PIECE);
  }

  private static int pieceLen(int count, int k) {
    return Math.min(TcpWire.PIECE, count - k * TcpWire.PIECE);
  }

  @Override
  protected long doAllReduce(float[] buf, int off, int len, ReduceOp op) throws InterruptedException {
    int tag = seq++;
    if (4L * len <= SMALL_BYTES || len < n) return directAllReduce(buf, off, len, op, tag);
    int[] counts = Communicator.evenCounts(len, n);
    long[] o = Communicator.offsets(counts);
    long sent = ringReduceScatter(CommOp.ALL_REDUCE, tag, buf, off, o, counts, op, buf, off + (int) o[me]);
    return sent + ringAllGather(CommOp.ALL_REDUCE, tag, buf, off, o, counts);
  }

  private long directAllReduce(float[] buf, int off, int len, ReduceOp op, int tag) throws InterruptedException {
    for (int q = 0; q < n; q++) if (q != me) peer(q).writeAll(CommOp.ALL_REDUCE, groupId, tag, buf, off, len);
    float[][] all = new float[n][];
    for (int q = 0; q < n; q++) {
      if (q == me) continue;
      all[q] = new float[len];
      peer(q).readAll(groupId, TcpPeer.COLLECTIVE_STREAM, CommOp.ALL_REDUCE, tag, all[q], 0, len);
    }
    float[] acc = me == 0 ? java.util.Arrays.copyOfRange(buf, off, off + len) : all[0];
    for (int q = 1; q < n; q++) {
      if (q == me) op.combine(acc, 0, buf, off, len);
      else op.combine(acc, 0, all[q], 0, len);
    }
    op.finish(acc, 0, len, n);
    System.arraycopy(acc, 0, buf, off, len);
    return 4L * (n - 1) * len;
  }

  /**
   * Ring reduce-scatter over segments (o[i], counts[i]) of in (relative to inOff). At step s a rank
   * sends segment me-s-1 (its own values at s = 0, the running partial after) to the next rank and
   * receives segment me-s-2 from the previous, adding its own values; after n-1 steps it holds the
   * full result of segment me, written to out[outOff]. Pieces of the send and the receive alternate.
   * Reads {@code in} only, so out may be in's own segment me.
   */
  private long ringReduceScatter(CommOp kind, int tag, float[] in, int inOff, long[] o, int[] counts, ReduceOp op,
                                 float[] out, int outOff) throws InterruptedException {
    long sent = 0;
    float[][] partial = null;
    for (int s = 0; s < n - 1; s++) {
      int sendSeg = mod(me - s - 1);
      int recvSeg = mod(me - s - 2);
      int ps = pieces(counts[sendSeg]);
      int pr = pieces(counts[recvSeg]);
      float[][] received = new float[pr][];
      for (int k = 0; k < Math.max(ps, pr); k++) {
        if (k < ps) {
          int len = Math.max(0, pieceLen(counts[sendSeg], k));
          if (s == 0) sendPiece(next(), kind, tag, in, inOff + (int) o[sendSeg] + k * TcpWire.PIECE, len);
          else sendPiece(next(), kind, tag, partial[k], 0, len);
          sent += 4L * len;
        }
        if (k < pr) {
          int len = Math.max(0, pieceLen(counts[recvSeg], k));
          float[] f = recvPiece(prev(), kind, tag, len);
          op.combine(f, 0, in, inOff + (int) o[recvSeg] + k * TcpWire.PIECE, len);
          received[k] = f;
        }
      }
      partial = received;
    }
    for (int k = 0; k < partial.length; k++) {
      int len = Math.max(0, pieceLen(counts[me], k));
      op.finish(partial[k], 0, len, n);
      System.arraycopy(partial[k], 0, out, outOff + k * TcpWire.PIECE, len);
    }
    return sent;
  }

  /**
   * Ring all-gather over segments (o[i], counts[i]) of buf (relative to off), segment me already in
   * place: at step s send segment me-s to the next rank, receive segment me-s-1 from the previous.
   */
  private long ringAllGather(CommOp kind, int tag, float[] buf, int off, long[] o, int[] counts) throws InterruptedException {
    long sent = 0;
    for (int s = 0; s < n - 1; s++) {
      int sendSeg = mod(me - s);
      int recvSeg = mod(me - s - 1);
      int ps = pieces(counts[sendSeg]);
      int pr = pieces(counts[recvSeg]);
      for (int k = 0; k < Math.max(ps, pr); k++) {
        if (k < ps) {
          int len = Math.max(0, pieceLen(counts[sendSeg], k));
          sendPiece(next(), kind, tag, buf, off + (int) o[sendSeg] + k * TcpWire.PIECE, len);
          sent += 4L * len;
        }
        if (k < pr) {
          int len = Math.max(0, pieceLen(counts[recvSeg], k));
          float[] f = recvPiece(prev(), kind, tag, len);
          System.arraycopy(f, 0, buf, off + (int) o[recvSeg] + k * TcpWire.PIECE, len);
        }
      }
    }
    return sent;
  }

  @Override
  protected long doReduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op)
      throws InterruptedException {
    int tag = seq++;
    return ringReduceScatter(CommOp.REDUCE_SCATTER, tag, in, inOff, Communicator.offsets(counts), counts, op, out, outOff);
  }

  @Override
  protected long doAllGather(float[] in, int inOff, float[] out, int outOff, int[] counts) throws InterruptedException {
    int tag = seq++;
    long[] o = Communicator.offsets(counts);
    System.arraycopy(in, inOff, out, outOff + (int) o[me], counts[me]);
    return ringAllGather(CommOp.ALL_GATHER, tag, out, outOff, o, counts);
  }

  @Override
  protected long doBroadcast(float[] buf, int off, int len, int root) throws InterruptedException {
    int tag = seq++;
    if (me == root) {
      for (int q = 0; q < n; q++) if (q != root) peer(q).writeAll(CommOp.BROADCAST, groupId, tag, buf, off, len);
      return 4L * (n - 1) * len;
    }
    peer(root).readAll(groupId, TcpPeer.COLLECTIVE_STREAM, CommOp.BROADCAST, tag, buf, off, len);
    return 0;
  }

  @Override
  protected long doSend(float[] buf, int off, int len, int peer, int tag) {
    peer(peer).writeAll(CommOp.SEND, groupId, tag, buf, off, len);
    return 4L * len;
  }

  @Override
  protected long doRecv(float[] buf, int off, int len, int peer, int tag) throws InterruptedException {
    peer(peer).readAll(groupId, tag, CommOp.SEND, tag, buf, off, len);
    return 0;
  }

  @Override
  protected long doAllToAll(float[] in, int inOff, float[] out, int outOff, int chunk) throws InterruptedException {
    int tag = seq++;
    for (int q = 0; q < n; q++) {
      if (q != me) peer(q).writeAll(CommOp.ALL_TO_ALL, groupId, tag, in, inOff + q * chunk, chunk);
    }
    System.arraycopy(in, inOff + me * chunk, out, outOff + me * chunk, chunk);
    for (int q = 0; q < n; q++) {
      if (q != me) peer(q).readAll(groupId, TcpPeer.COLLECTIVE_STREAM, CommOp.ALL_TO_ALL, tag, out, outOff + q * chunk, chunk);
    }
    return 4L * (n - 1) * chunk;
  }

  @Override
  protected long doBarrier() throws InterruptedException {
    int tag = seq++;
    float[] none = new float[0];
    for (int q = 0; q < n; q++) if (q != me) sendPiece(q, CommOp.BARRIER, tag, none, 0, 0);
    for (int q = 0; q < n; q++) if (q != me) recvPiece(q, CommOp.BARRIER, tag, 0);
    return 0;
  }
}
