package dev.weft.comm;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The shared-memory data path of one tcp group whose members all run on this host: a file in
 * /dev/shm (java.io.tmpdir when there is none) mapped by every member, holding per-rank sequence
 * counters and two buffers of one slot per rank. Collectives move through it in rounds; sockets are
 * not used for their data (they still carry send/recv and notice dead peers).
 *
 * <p>Layout: a header page (magic, size, slot size, attach count), one 128-byte control line per
 * rank (its step counter and two descriptors of the op it is in), then buffers 0 and 1, each n slots
 * of {@code slotBytes}. Round g uses buffer g mod 2 and three steps per rank: 3g+1 (my data is in
 * my slot), 3g+2 (my reduction is written), 3g+3 (I have read what I need: my slots of buffer g mod
 * 2 may be reused). Before writing in round g a rank waits until every member finished round g-2, so
 * one barrier per phase is the only synchronisation. Counters are written with release and read
 * with acquire (VarHandles on the mapped segment); a waiter spins briefly (Thread.onSpinWait; not
 * at all when there are more local ranks than cores), then yields (handing the core to a rank that
 * has work, which with more ranks than cores is often the one it waits for: a yield costs a context
 * switch, a park a timer tick), then parks for short periods once a wait grows long, and gives up
 * when the communicator's timeout passes, when the backend has recorded a failure (a peer's socket
 * died), or when the awaited peer has closed its connection: shared memory adds no new way to hang.
 *
 * <p>Algorithms (L elements, n ranks, C = slotBytes / 4 elements per slot, per round):
 * <ul>
 *   <li>allReduce: single pass like the local backend. Each rank copies its piece (up to C elements)
 *       into its slot, except its own 1/n segment; rank i then reduces segment i reading every rank's
 *       values in rank order 0..n-1 (its own straight from its array), writes the result into its
 *       slot and its array; then every rank copies the other segments' results out. Each element is
 *       computed once, so all ranks hold identical bits. Bytes moved (read from peers' slots):
 *       (n-1) x own segment + the others' results, 2(n-1)/n x 4L in total, as for the socket ring.</li>
 *   <li>reduceScatter: per round, a sub-slot of C/n elements per destination; rank i reduces its
 *       sub-slots into its output: (n-1) x 4 x count[i] bytes read.</li>
 *   <li>allGather: per round up to C elements of each rank's chunk: (total - own) x 4 bytes.</li>
 *   <li>broadcast: the root writes, the others copy out: 4L per non-root. allToAll: sub-slots per
 *       destination: (n-1) x 4 x chunk. barrier: one round without data.</li>
 * </ul>
 *
 * <p>Life cycle and cleanup: the group's lowest rank creates the file under a temporary name, sizes
 * and initialises it, and renames it into place at the first collective; the others open it by its
 * name (derived from the job token's hash, the rendezvous nonce and the group id, so jobs and
 * repeated runs never collide) and count themselves in; once all are in, the creator unlinks it.
 * From then on the memory lives only in the mappings and the kernel frees it when the last member
 * unmaps it (close) or dies, including by SIGKILL. Only a kill in the short window between creation
 * and the last member's open can leave a file behind: every surviving member deletes it when its
 * backend closes; if every member dies in that window the file stays in /dev/shm (names start with
 * "weft-", removable by hand, and tmpfs frees it at reboot).
 */
final class ShmGroup implements AutoCloseable {
  /**
   * Bytes per rank per buffer (two buffers): 512 KiB. Small rounds keep what one rank writes in the
   * cache until the others read it (a round's n slots are 2 MiB for 4 ranks), so the slots' traffic
   * mostly stays out of DRAM and only the callers' arrays go there. Measured on 2 cores (64 MiB
   * all-reduce, median of 6 runs, once waiters yield instead of parking, see {@link #pause}): 2
   * processes 15 / 13 / 16 / 20 ms with 256 KiB / 512 KiB / 1 MiB / 2 MiB slots and 20-22 ms with
   * 16 MiB; 4 processes 23 / 20 / 25 / 47 ms and 45-56 ms with 16 MiB. More rounds mean more barriers:
   * with waiters that park (the earlier design) each barrier cost a scheduling delay and large slots
   * won; with waiters that yield, the cache wins.
   */
  static final int DEFAULT_SLOT_BYTES = 512 << 10;
  private static final long MAGIC = 0x5745465453484d31L; // "WEFTSHM1"
  private static final int LINE = 128;
  /** Buffers the rounds alternate between (measured: 4 gained nothing over 2); at most 7 (descriptors per control line). */
  static final int BUFFERS = 2;
  private static final int HEADER = 4096;
  private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
  private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
  private static final int BLOCK = 2048;
  private static final int SPINS = 200;
  private static final int YIELDS = 4000;
  /** More local ranks than cores: spinning only delays the rank it waits for, so a waiter yields at once. */
  private final boolean oversubscribed;

  private final TcpBackend backend;
  private final int[] ranks;
  private final int n;
  private final int me;
  private final int slotBytes;
  private final int slot; // elements per slot
  private final long size;
  private final Path file;
  private final Path tmpFile;
  private final long timeoutNanos;
  private final float[] acc = new float[BLOCK];
  /** Per round: where each member's values for this rank's reduction start in the segment. */
  private final long[] src;
  private Arena arena;
  private MemorySegment seg;
  private long round;
  private boolean closed;

  ShmGroup(TcpBackend backend, int[] globalRanks, long groupId, int slotBytes) {
    this.backend = backend;
    this.ranks = globalRanks.clone();
    this.n = ranks.length;
    this.me = java.util.Arrays.binarySearch(ranks, backend.rank());
    this.src = new long[n];
    int perRank = Math.max(64 * n, slotBytes) / (4 * n) * (4 * n); // divisible into n sub-slots of whole floats
    this.slotBytes = perRank;
    this.slot = perRank / 4;
    long header = Math.max(HEADER, (long) LINE * (n + 1) + 4095 & ~4095L);
    this.size = header + (long) BUFFERS * n * perRank;
    Path dir = directory();
    String name = backend.shmPrefix() + Long.toHexString(groupId);
    this.file = dir.resolve(name);
    this.tmpFile = dir.resolve(name + ".creating");
    this.timeoutNanos = backend.timeout().toNanos();
    this.oversubscribed = n > Runtime.getRuntime().availableProcessors();
  }

  /** Where the segments' files go: /dev/shm, or java.io.tmpdir when there is no writable /dev/shm. */
  static Path directory() {
    Path dir = Path.of("/dev/shm");
    return Files.isDirectory(dir) && Files.isWritable(dir) ? dir : Path.of(System.getProperty("java.io.tmpdir"));
  }

  /** The file this group maps (deleted once every member has opened it). */
  Path file() {
    return file;
  }

  private long dataBase() {
    return size - (long) BUFFERS * n * slotBytes;
  }

  private long slotOff(long g, int q) {
    return dataBase() + ((g % BUFFERS) * n + q) * (long) slotBytes;
  }

  private static long ctrl(int q) {
    return (long) LINE * (q + 1);
  }

  // ---- attach ---------------------------------------------------------------------------------

  private void attach() throws InterruptedException {
    if (seg != null) return;
    if (closed) throw new TransportException(-1, "the shared-memory segment of this group is closed");
    try {
      if (me == 0) create();
      else open();
    } catch (IOException e) {
      throw new TransportException(-1, "cannot set up shared memory " + file + " (" + (size >> 10) + " KiB for this "
          + "group): " + e + ". Free or enlarge " + file.getParent() + " (docker run --shm-size), or set "
          + "WEFT_TRANSPORT=socket on every rank to use sockets only.", e);
    }
  }

  private void create() throws IOException, InterruptedException {
    Arena a = Arena.ofShared();
    try (FileChannel ch = FileChannel.open(tmpFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      // Written through, not left sparse: a full tmpfs then fails here with "No space left on device"
      // instead of killing a rank with SIGBUS at its first touch of a page that cannot be backed.
      java.nio.ByteBuffer zeros = java.nio.ByteBuffer.allocate(1 << 16);
      for (long at = 0; at < size; at += zeros.capacity()) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
        while (zeros.hasRemaining()) ch.write(zeros, at + zeros.position());
      }
      seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, a);
      arena = a;
    } catch (IOException | RuntimeException e) {
      a.close();
      Files.deleteIfExists(tmpFile);
      throw e;
    }
    seg.set(ValueLayout.JAVA_LONG, 8, size);
    seg.set(ValueLayout.JAVA_LONG, 16, slotBytes);
    LONG.setRelease(seg, 24L, 1L); // attached: the creator
    LONG.setRelease(seg, 0L, MAGIC);
    Files.move(tmpFile, file, StandardCopyOption.ATOMIC_MOVE);
    // Wait until every member has mapped it, then unlink: from here a crash leaves nothing behind.
    long deadline = System.nanoTime() + timeoutNanos;
    int spins = 0;
    while ((long) LONG.getAcquire(seg, 24L) < n) {
      spins = pause(Math.max(spins, SPINS + YIELDS));
      check(-1, deadline, "the group's ranks to open the shared memory " + file);
    }
    Files.deleteIfExists(file);
  }

  private void open() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + timeoutNanos;
    int spins = 0;
    while (!Files.exists(file)) {
      spins = pause(Math.max(spins, SPINS + YIELDS)); // the file system: park between looks
      check(0, deadline, "global rank " + ranks[0] + " to create the shared memory " + file);
    }
    Arena a = Arena.ofShared();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      if (ch.size() != size) throw new IOException("size " + ch.size() + ", expected " + size + " (ranks disagree on the layout)");
      seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, size, a);
      arena = a;
    } catch (IOException | RuntimeException e) {
      a.close();
      throw e;
    }
    if ((long) LONG.getAcquire(seg, 0L) != MAGIC || seg.get(ValueLayout.JAVA_LONG, 16) != slotBytes) {
      throw new IOException("not a Weft shared-memory segment of this layout");
    }
    LONG.getAndAdd(seg, 24L, 1L);
  }

  // ---- synchronisation ----------------------------------------------------------------------

  /** One step of backing off: spin, then yield, then short parks (the machine may have fewer cores than ranks). */
  private static int pause(int spins) throws InterruptedException {
    if (spins < SPINS) {
      Thread.onSpinWait();
    } else if (spins < SPINS + YIELDS) {
      Thread.yield();
    } else {
      LockSupport.parkNanos(spins < SPINS + YIELDS + 200 ? 20_000 : 200_000);
      if (Thread.interrupted()) throw new InterruptedException();
    }
    return spins + 1;
  }

  /** Fails if the job failed, the awaited peer (group rank q, or -1 for any) has gone, or the deadline passed. */
  private void check(int q, long deadline, String what) {
    backend.checkFailure();
    if (q >= 0) {
      String gone = backend.peerGone(ranks[q]);
      if (gone != null) throw new TransportException(ranks[q], gone + " (while waiting for " + what + ")");
    }
    if (System.nanoTime() - deadline > 0) {
      int peer = q >= 0 ? ranks[q] : -1;
      throw new TransportException(peer, "timed out after " + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos)
          + " s waiting for " + what);
    }
  }

  private void publish(long step) {
    LONG.setRelease(seg, ctrl(me), step);
  }

  private long stepOf(int q) {
    return (long) LONG.getAcquire(seg, ctrl(q));
  }

  private void waitFor(int q, long step, CommOp op) throws InterruptedException {
    if (stepOf(q) >= step) return;
    long deadline = System.nanoTime() + timeoutNanos;
    int spins = oversubscribed ? SPINS : 0;
    while (stepOf(q) < step) {
      spins = pause(spins);
      if (spins >= SPINS && (spins & 7) == 0 || spins > SPINS + YIELDS) {
        if (stepOf(q) >= step) return; // it finished, then went away: not a failure
        check(q, deadline, "global rank " + ranks[q] + " in " + op.label() + " (shared memory)");
      }
    }
  }

  private void waitAll(long step, CommOp op) throws InterruptedException {
    for (int q = 0; q < n; q++) if (q != me) waitFor(q, step, op);
  }

  /** Starts round {@code round}: waits until every member has finished round - 2 (whose buffer this one reuses). */
  private long begin(CommOp op) throws InterruptedException {
    attach();
    long g = round;
    if (g >= BUFFERS) waitAll(3 * (g - BUFFERS) + 3, op);
    return g;
  }

  /** Writes what this rank is doing in round g, for the others to check. */
  private void describe(long g, CommOp op, int tag, long len) {
    long at = ctrl(me) + 8 + 16 * (g % BUFFERS);
    seg.set(ValueLayout.JAVA_LONG, at, ((long) op.ordinal() << 32) | (tag & 0xffffffffL));
    seg.set(ValueLayout.JAVA_LONG, at + 8, len);
  }

  /** After waiting for q's step 3g+1: q must be in the same op, with the same sequence number and length. */
  private void verify(long g, int q, CommOp op, int tag, long len) {
    long at = ctrl(q) + 8 + 16 * (g % BUFFERS);
    long what = seg.get(ValueLayout.JAVA_LONG, at);
    long theirLen = seg.get(ValueLayout.JAVA_LONG, at + 8);
    long mine = ((long) op.ordinal() << 32) | (tag & 0xffffffffL);
    if (what != mine || theirLen != len) {
      CommOp theirs = CommOp.fromCode((int) (what >>> 32));
      String msg = "global rank " + ranks[q] + " is in " + (theirs == null ? "?" : theirs.label()) + " #" + (int) what
          + " of " + theirLen + " elements, this rank in " + op.label() + " #" + tag + " of " + len
          + " (ranks issued different operations; shared memory)";
      backend.fail(ranks[q], msg);
      throw new TransportException(ranks[q], msg);
    }
  }

  private void arrive(long g, CommOp op, int tag, long len) throws InterruptedException {
    describe(g, op, tag, len);
    publish(3 * g + 1);
    for (int q = 0; q < n; q++) {
      if (q == me) continue;
      waitFor(q, 3 * g + 1, op);
      verify(g, q, op, tag, len);
    }
  }

  // ---- collectives --------------------------------------------------------------------------

  long allReduce(float[] buf, int off, int len, ReduceOp op, int tag) throws InterruptedException {
    long moved = 0;
    for (int done = 0; done < len; done += slot) {
      int piece = Math.min(slot, len - done);
      long g = begin(CommOp.ALL_REDUCE);
      int myFrom = segStart(piece, me);
      int myCount = segStart(piece, me + 1) - myFrom;
      // Copy in everything but my own segment (only I read that, straight from buf).
      long mySlot = slotOff(g, me);
      if (myFrom > 0) MemorySegment.copy(buf, off + done, seg, F, mySlot, myFrom);
      int tail = piece - myFrom - myCount;
      if (tail > 0) MemorySegment.copy(buf, off + done + myFrom + myCount, seg, F, mySlot + 4L * (myFrom + myCount), tail);
      arrive(g, CommOp.ALL_REDUCE, tag, len);
      for (int q = 0; q < n; q++) src[q] = slotOff(g, q) + 4L * myFrom;
      reduce(myCount, src, buf, off + done + myFrom, mySlot + 4L * myFrom, buf, off + done + myFrom, op);
      publish(3 * g + 2);
      waitAll(3 * g + 2, CommOp.ALL_REDUCE);
      for (int q = 0; q < n; q++) {
        if (q == me) continue;
        int from = segStart(piece, q);
        int count = segStart(piece, q + 1) - from;
        if (count > 0) MemorySegment.copy(seg, F, slotOff(g, q) + 4L * from, buf, off + done + from, count);
      }
      publish(3 * g + 3);
      round++;
      moved += 4L * ((n - 1L) * myCount + (piece - myCount));
    }
    return moved;
  }

  /** Start of segment q when piece elements are split as Communicator.evenCounts does. */
  private int segStart(int piece, int q) {
    int base = piece / n;
    int extra = piece % n;
    return q * base + Math.min(q, extra);
  }

  long reduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op, int tag)
      throws InterruptedException {
    long[] o = Communicator.offsets(counts);
    int sub = slot / n;
    int max = 0;
    for (int c : counts) max = Math.max(max, c);
    long moved = 0;
    for (int lo = 0; lo < max; lo += sub) {
      long g = begin(CommOp.REDUCE_SCATTER);
      long mySlot = slotOff(g, me);
      for (int q = 0; q < n; q++) {
        int cnt = Math.clamp(counts[q] - lo, 0, sub);
        if (q != me && cnt > 0) MemorySegment.copy(in, inOff + (int) o[q] + lo, seg, F, mySlot + 4L * q * sub, cnt);
      }
      arrive(g, CommOp.REDUCE_SCATTER, tag, o[n]);
      int mine = Math.clamp(counts[me] - lo, 0, sub);
      for (int q = 0; q < n; q++) src[q] = slotOff(g, q) + 4L * me * sub;
      reduce(mine, src, in, inOff + (int) o[me] + lo, -1, out, outOff + lo, op);
      publish(3 * g + 3); // nothing to copy out: my slot is free once the others have read it (round g + 2 checks)
      round++;
      moved += 4L * (n - 1) * mine;
    }
    return moved;
  }

  long allGather(float[] in, int inOff, float[] out, int outOff, int[] counts, int tag) throws InterruptedException {
    long[] o = Communicator.offsets(counts);
    int max = 0;
    for (int c : counts) max = Math.max(max, c);
    System.arraycopy(in, inOff, out, outOff + (int) o[me], counts[me]);
    long moved = 0;
    for (int lo = 0; lo < max; lo += slot) {
      long g = begin(CommOp.ALL_GATHER);
      int mine = Math.clamp(counts[me] - lo, 0, slot);
      if (mine > 0) MemorySegment.copy(in, inOff + lo, seg, F, slotOff(g, me), mine);
      arrive(g, CommOp.ALL_GATHER, tag, o[n]);
      publish(3 * g + 2);
      for (int q = 0; q < n; q++) {
        int cnt = Math.clamp(counts[q] - lo, 0, slot);
        if (q == me || cnt == 0) continue;
        MemorySegment.copy(seg, F, slotOff(g, q), out, outOff + (int) o[q] + lo, cnt);
        moved += 4L * cnt;
      }
      publish(3 * g + 3);
      round++;
    }
    return moved;
  }

  long broadcast(float[] buf, int off, int len, int root, int tag) throws InterruptedException {
    long moved = 0;
    for (int done = 0; done < len; done += slot) {
      int piece = Math.min(slot, len - done);
      long g = begin(CommOp.BROADCAST);
      if (me == root) {
        MemorySegment.copy(buf, off + done, seg, F, slotOff(g, root), piece);
        describe(g, CommOp.BROADCAST, tag, len);
        publish(3 * g + 3); // done with this round: the others' reads are checked in round g + 2
      } else {
        publish(3 * g + 2);
        waitFor(root, 3 * g + 1, CommOp.BROADCAST);
        verify(g, root, CommOp.BROADCAST, tag, len);
        MemorySegment.copy(seg, F, slotOff(g, root), buf, off + done, piece);
        publish(3 * g + 3);
        moved += 4L * piece;
      }
      round++;
    }
    return moved;
  }

  long allToAll(float[] in, int inOff, float[] out, int outOff, int chunk, int tag) throws InterruptedException {
    System.arraycopy(in, inOff + me * chunk, out, outOff + me * chunk, chunk);
    int sub = slot / n;
    long moved = 0;
    for (int lo = 0; lo < chunk; lo += sub) {
      int cnt = Math.min(sub, chunk - lo);
      long g = begin(CommOp.ALL_TO_ALL);
      long mySlot = slotOff(g, me);
      for (int q = 0; q < n; q++) {
        if (q != me) MemorySegment.copy(in, inOff + q * chunk + lo, seg, F, mySlot + 4L * q * sub, cnt);
      }
      arrive(g, CommOp.ALL_TO_ALL, tag, chunk);
      publish(3 * g + 2);
      for (int q = 0; q < n; q++) {
        if (q != me) MemorySegment.copy(seg, F, slotOff(g, q) + 4L * me * sub, out, outOff + q * chunk + lo, cnt);
      }
      publish(3 * g + 3);
      round++;
      moved += 4L * (n - 1) * cnt;
    }
    return moved;
  }

  void barrier(int tag) throws InterruptedException {
    long g = begin(CommOp.BARRIER);
    arrive(g, CommOp.BARRIER, tag, 0);
    publish(3 * g + 3);
    round++;
  }

  /**
   * For i in [0, count): r = op over q = 0..n-1, in that order, of (q == me ? own[ownOff + i] : the
   * float at src[q] + 4i), finished for n; r goes to the segment at dstSeg + 4i (unless dstSeg < 0)
   * and to dst[dstOff + i]. Through a small accumulator that stays in L1.
   */
  private void reduce(int count, long[] src, float[] own, int ownOff, long dstSeg, float[] dst, int dstOff, ReduceOp op) {
    for (int b = 0; b < count; b += BLOCK) {
      int len = Math.min(BLOCK, count - b);
      if (me == 0) System.arraycopy(own, ownOff + b, acc, 0, len);
      else MemorySegment.copy(seg, F, src[0] + 4L * b, acc, 0, len);
      for (int q = 1; q < n; q++) {
        if (q == me) ReduceKernels.combine(acc, 0, own, ownOff + b, len, op);
        else ReduceKernels.combineSeg(acc, 0, seg, src[q] + 4L * b, len, op);
      }
      ReduceKernels.finish(acc, 0, len, op, n);
      if (dstSeg >= 0) MemorySegment.copy(acc, 0, seg, F, dstSeg + 4L * b, len);
      System.arraycopy(acc, 0, dst, dstOff + b, len);
    }
  }

  /** Unmaps the segment and deletes the file if it is still there (a member died before opening it). */
  @Override
  public synchronized void close() {
    closed = true;
    try {
      Files.deleteIfExists(file);
      if (me == 0) Files.deleteIfExists(tmpFile);
    } catch (IOException ignored) {
      // best effort
    }
    Arena a = arena;
    arena = null;
    if (a != null) {
      try {
        a.close();
      } catch (IllegalStateException ignored) {
        // an op on the comm thread is still in it: the mapping goes with the process
      }
    }
  }
}
