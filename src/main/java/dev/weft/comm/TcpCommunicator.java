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
 *       segments, pipelined in frames of {@link #RING_CHUNK} elements (256 KiB): 2(n-1)/n x 4L bytes.
 *       Each segment is summed once, in ring order, so all ranks hold identical bits. Received
 *       frames are reduced (vectorised) straight from their byte buffers into buf, which also holds
 *       the running partials: per element one socket read, one fused convert+reduce, one bulk
 *       float-to-byte copy and one socket write per hop.</li>
 *   <li>allReduce, small: every rank sends its buffer to every other and combines all n in rank order
 *       0..n-1 from the received frames into a reused accumulator (latency-bound regime, one round):
 *       (n-1) x 4L bytes.</li>
 *   <li>reduceScatter / allGather (even or uneven counts): one ring pass: (total - own) x 4 bytes.</li>
 *   <li>broadcast: the root sends to each rank directly: (n-1) x 4L bytes from the root.</li>
 *   <li>allToAll: chunk q straight to rank q: (n-1) x 4 x chunk. barrier: an empty frame to everyone.</li>
 *   <li>send/recv: frames of up to PIECE elements, matched in order per (peer, tag).</li>
 * </ul>
 *
 * <p>Groups whose members are all on this host (transport AUTO) run every collective through a
 * {@link ShmGroup} instead (single-pass algorithms on a shared-memory segment, no kernel copies);
 * send/recv stay on the sockets, which also keep detecting dead peers for both paths.
 */
final class TcpCommunicator extends AbstractCommunicator {
  /** All-reduces up to this size use the direct (one round) algorithm. */
  static final int SMALL_BYTES = 64 * 1024;
  private static final float[] NONE = new float[0];
  /** Elements per frame of the ring algorithms (at most {@link TcpWire#PIECE}): the pipelining grain. */
  static final int RING_CHUNK = Math.clamp(Integer.getInteger("weft.tcp.ringChunk", 64 * 1024), 1024, TcpWire.PIECE);

  private final TcpBackend backend;
  private final long groupId;
  /** The shared-memory path when every member is on this host and the transport is AUTO; else null. */
  private final ShmGroup shm;
  private final int n;
  private int seq;
  /** Reused: the direct all-reduce's accumulator and the reduce-scatter's two partial slots. */
  private float[] smallAcc = new float[0];
  private float[] scratch = new float[0];

  TcpCommunicator(TcpBackend backend, int[] globalRanks, long groupId, ShmGroup shm) {
    super(globalRanks, backend.rank(), backend.timeout(), shm != null ? "tcp, shared memory" : "tcp");
    this.backend = backend;
    this.groupId = groupId;
    this.shm = shm;
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

  private TcpPeer.Frame recvPiece(int from, CommOp op, int tag, int len) throws InterruptedException {
    return peer(from).take(groupId, TcpPeer.COLLECTIVE_STREAM, op, tag, len);
  }

  private static int pieces(int count) {
    return Math.max(1, (count + RING_CHUNK - 1) / RING_CHUNK);
  }

  private static int pieceLen(int count, int k) {
    return Math.max(0, Math.min(RING_CHUNK, count - k * RING_CHUNK));
  }

  @Override
  protected long doAllReduce(float[] buf, int off, int len, ReduceOp op) throws InterruptedException {
    int tag = seq++;
    if (shm != null) return shm.allReduce(buf, off, len, op, tag);
    if (4L * len <= SMALL_BYTES || len < n) return directAllReduce(buf, off, len, op, tag);
    int[] counts = Communicator.evenCounts(len, n);
    long[] o = Communicator.offsets(counts);
    // In place: the running partials of the reduce-scatter live in buf's own segments (each is
    // overwritten by the all-gather afterwards), so no scratch memory is needed.
    long sent = ringReduceScatter(CommOp.ALL_REDUCE, tag, buf, off, o, counts, op, buf, off + (int) o[me], true);
    return sent + ringAllGather(CommOp.ALL_REDUCE, tag, buf, off, o, counts);
  }

  /**
   * One round: every rank sends its buffer to every other (one frame each) and combines all n in rank
   * order 0..n-1, reading the received frames in place (no copies into temporary arrays).
   */
  private long directAllReduce(float[] buf, int off, int len, ReduceOp op, int tag) throws InterruptedException {
    for (int q = 0; q < n; q++) if (q != me) sendPiece(q, CommOp.ALL_REDUCE, tag, buf, off, len);
    TcpPeer.Frame[] got = new TcpPeer.Frame[n];
    try {
      for (int q = 0; q < n; q++) if (q != me) got[q] = recvPiece(q, CommOp.ALL_REDUCE, tag, len);
      if (smallAcc.length < len) smallAcc = new float[len];
      float[] acc = smallAcc;
      if (me == 0) System.arraycopy(buf, off, acc, 0, len);
      else got[0].copyTo(acc, 0);
      for (int q = 1; q < n; q++) {
        boolean last = q == n - 1;
        if (q == me) {
          ReduceKernels.combine(acc, 0, buf, off, len, op);
          if (last) ReduceKernels.finish(acc, 0, len, op, n);
        } else {
          ReduceKernels.combineFrom(got[q].segment(), 0, acc, 0, acc, 0, len, op, last ? n : 0);
        }
      }
      System.arraycopy(acc, 0, buf, off, len);
    } finally {
      for (int q = 0; q < n; q++) if (got[q] != null) peer(q).release(got[q]);
    }
    return 4L * (n - 1) * len;
  }

  /**
   * Ring reduce-scatter over segments (o[i], counts[i]) of in (relative to inOff). At step s a rank
   * sends segment me-s-1 (its own values at s = 0, the running partial after) to the next rank and
   * receives segment me-s-2 from the previous, combining it with its own values straight from the
   * received bytes (partial op own, so every segment is summed in the same ring order on every rank);
   * at the last step the received segment is its own, finished, and written to out[outOff]. The pieces
   * of the send and the receive alternate, so a rank sends piece k+1 while its neighbour is still
   * reducing piece k. Partials are kept in {@code in} itself when {@code inPlace} (the all-reduce:
   * in's segments other than me are overwritten later anyway), otherwise in two reusable scratch
   * slots, so in is only read.
   */
  private long ringReduceScatter(CommOp kind, int tag, float[] in, int inOff, long[] o, int[] counts, ReduceOp op,
                                 float[] out, int outOff, boolean inPlace) throws InterruptedException {
    long sent = 0;
    int max = 0;
    if (!inPlace) {
      for (int c : counts) max = Math.max(max, c);
      if (scratch.length < 2L * max) scratch = new float[2 * max];
    }
    float[] prevArr = null;
    int prevOff = 0;
    for (int s = 0; s < n - 1; s++) {
      int sendSeg = mod(me - s - 1);
      int recvSeg = mod(me - s - 2);
      boolean last = s == n - 2;
      // Where this step's send comes from and where its received partial goes.
      float[] srcArr = s == 0 ? in : prevArr;
      int srcOff = s == 0 ? inOff + (int) o[sendSeg] : prevOff;
      float[] dstArr;
      int dstOff;
      if (last) {
        dstArr = out;
        dstOff = outOff;
      } else if (inPlace) {
        dstArr = in;
        dstOff = inOff + (int) o[recvSeg];
      } else {
        dstArr = scratch;
        dstOff = (s & 1) * max;
      }
      int ownOff = inOff + (int) o[recvSeg];
      int ps = pieces(counts[sendSeg]);
      int pr = pieces(counts[recvSeg]);
      for (int k = 0; k < Math.max(ps, pr); k++) {
        if (k < ps) {
          int len = pieceLen(counts[sendSeg], k);
          sendPiece(next(), kind, tag, srcArr, srcOff + k * RING_CHUNK, len);
          sent += 4L * len;
        }
        if (k < pr) {
          int len = pieceLen(counts[recvSeg], k);
          TcpPeer.Frame f = recvPiece(prev(), kind, tag, len);
          try {
            ReduceKernels.combineFrom(f.segment(), 0, in, ownOff + k * RING_CHUNK, dstArr, dstOff + k * RING_CHUNK,
                len, op, last ? n : 0);
          } finally {
            peer(prev()).release(f);
          }
        }
      }
      prevArr = dstArr;
      prevOff = dstOff;
    }
    return sent;
  }

  /**
   * Ring all-gather over segments (o[i], counts[i]) of buf (relative to off), segment me already in
   * place: at step s send segment me-s to the next rank, receive segment me-s-1 from the previous,
   * copied straight from the received bytes into its place in buf.
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
          int len = pieceLen(counts[sendSeg], k);
          sendPiece(next(), kind, tag, buf, off + (int) o[sendSeg] + k * RING_CHUNK, len);
          sent += 4L * len;
        }
        if (k < pr) {
          int len = pieceLen(counts[recvSeg], k);
          TcpPeer.Frame f = recvPiece(prev(), kind, tag, len);
          f.copyTo(buf, off + (int) o[recvSeg] + k * RING_CHUNK);
          peer(prev()).release(f);
        }
      }
    }
    return sent;
  }

  @Override
  protected long doReduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op)
      throws InterruptedException {
    int tag = seq++;
    if (shm != null) return shm.reduceScatter(in, inOff, out, outOff, counts, op, tag);
    return ringReduceScatter(CommOp.REDUCE_SCATTER, tag, in, inOff, Communicator.offsets(counts), counts, op, out, outOff,
        false);
  }

  @Override
  protected long doAllGather(float[] in, int inOff, float[] out, int outOff, int[] counts) throws InterruptedException {
    int tag = seq++;
    if (shm != null) return shm.allGather(in, inOff, out, outOff, counts, tag);
    long[] o = Communicator.offsets(counts);
    System.arraycopy(in, inOff, out, outOff + (int) o[me], counts[me]);
    return ringAllGather(CommOp.ALL_GATHER, tag, out, outOff, o, counts);
  }

  @Override
  protected long doBroadcast(float[] buf, int off, int len, int root) throws InterruptedException {
    int tag = seq++;
    if (shm != null) return shm.broadcast(buf, off, len, root, tag);
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
    if (shm != null) return shm.allToAll(in, inOff, out, outOff, chunk, tag);
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
    if (shm != null) {
      shm.barrier(tag);
      return 0;
    }
    for (int q = 0; q < n; q++) if (q != me) sendPiece(q, CommOp.BARRIER, tag, NONE, 0, 0);
    for (int q = 0; q < n; q++) if (q != me) recvPiece(q, CommOp.BARRIER, tag, 0);
    return 0;
  }

  /** Also unmaps the shared memory (and deletes its file if a member never opened it). */
  @Override
  public synchronized void close() {
    super.close();
    if (shm != null) shm.close();
  }

  /** The shared-memory path, or null when this group uses sockets only (for tests). */
  ShmGroup shmForTest() {
    return shm;
  }
}
