package dev.weft.comm;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The connection to one peer process: frames out under a lock (one frame at a time, so the frames of
 * different groups interleave whole), and a reader thread that checks each incoming header and files
 * the frame in an inbox per (group, stream), where stream is the collective stream or a user tag.
 * Waiting for a frame is bounded by the timeout and fails fast once the peer or the job has failed.
 *
 * <p>Bytes and copies: an outgoing frame is one bulk copy of the floats into a reusable direct buffer
 * (little-endian) and the socket write. An incoming body is read from the socket into a byte buffer
 * that the frame keeps as it is (no conversion in the reader thread): large bodies go to direct
 * buffers of the ring's frame size taken from a per-peer pool, small ones (and
 * the rare larger ones) to fresh heap buffers. The receiving op converts (or reduces) straight from that buffer into its destination
 * array and then hands the buffer back with {@link #release}. A header announcing more than PIECE
 * elements is refused before anything is allocated.
 */
final class TcpPeer {
  /**
   * A received frame: {@code len} little-endian floats in {@code body}[0, 4 x len) (body is null when
   * len is 0). The receiver gives the body back with {@link #release} once it has read it.
   */
  record Frame(CommOp op, long group, int tag, int len, ByteBuffer body) {
    /** The body as a memory segment (for the vectorised reduction loops). */
    MemorySegment segment() {
      return body == null ? MemorySegment.NULL : MemorySegment.ofBuffer(body);
    }

    /** Copies the len floats into a[off, +len). */
    void copyTo(float[] a, int off) {
      if (len > 0) body.asFloatBuffer().get(0, a, off, len);
    }
  }

  /** The stream key of a group's collectives; p2p messages use their tag. */
  static final long COLLECTIVE_STREAM = Long.MIN_VALUE;
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
  /** Bodies up to this many bytes go into fresh heap buffers; larger ones into pooled direct buffers. */
  private static final int SMALL_BODY = 64 * 1024;
  /** Bodies over SMALL_BODY and up to this many bytes (the ring's frames) go into pooled direct buffers. */
  private static final int POOLED_BODY = 4 * TcpCommunicator.RING_CHUNK;
  /** Direct body buffers kept for reuse per peer (each POOLED_BODY bytes: 16 MiB at most). */
  private static final int POOL_MAX = 64;

  final int globalRank;
  private final SocketChannel channel;
  private final TcpBackend owner;
  private final ByteBuffer out = ByteBuffer.allocateDirect(TcpWire.HEADER_BYTES + TcpWire.PIECE * 4).order(ByteOrder.LITTLE_ENDIAN);
  private final ConcurrentHashMap<Long, ConcurrentHashMap<Long, LinkedBlockingQueue<Frame>>> inbox = new ConcurrentHashMap<>();
  private final ConcurrentLinkedQueue<ByteBuffer> pool = new ConcurrentLinkedQueue<>();
  private final AtomicInteger pooled = new AtomicInteger();
  private final Thread reader;
  private volatile String gone;

  TcpPeer(int globalRank, SocketChannel channel, TcpBackend owner) {
    this.globalRank = globalRank;
    this.channel = channel;
    this.owner = owner;
    this.reader = new Thread(this::readLoop, "weft-tcp-r" + owner.rank() + "-from-r" + globalRank);
    reader.setDaemon(true);
  }

  void start() {
    reader.start();
  }

  /** Why this connection ended (a clean goodbye, a lost connection, garbage), or null while it is up. */
  String goneReason() {
    return gone;
  }

  /** The raw channel, for fault-injection tests only. */
  SocketChannel channelForTest() {
    return channel;
  }

  /** Writes one frame of at most PIECE elements. */
  synchronized void write(int op, long group, int tag, float[] a, int off, int len) {
    if (gone != null) throw new TransportException(globalRank, gone);
    out.clear();
    out.putInt(TcpWire.FRAME_MAGIC).putInt(op).putLong(group).putInt(tag).putInt(len);
    out.asFloatBuffer().put(a, off, len);
    out.position(TcpWire.HEADER_BYTES + 4 * len);
    out.flip();
    try {
      while (out.hasRemaining()) channel.write(out);
    } catch (IOException e) {
      // If the reader already found why the link died (garbage, a vanished peer), that is the cause to report.
      String cause = gone;
      if (cause == null) {
        try {
          reader.join(200);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
        }
        cause = gone;
      }
      throw new TransportException(globalRank, cause != null ? cause
          : "cannot send to global rank " + globalRank + ": " + e, e);
    }
  }

  /** Writes len elements as consecutive frames of at most PIECE elements (one empty frame when len is 0). */
  void writeAll(CommOp op, long group, int tag, float[] a, int off, int len) {
    int done = 0;
    do {
      int piece = Math.min(TcpWire.PIECE, len - done);
      write(op.ordinal(), group, tag, a, off + done, piece);
      done += piece;
    } while (done < len);
  }

  /** The next frame of (group, stream), checked against the expected op, tag and exact length. */
  Frame take(long group, long stream, CommOp op, int tag, int len) throws InterruptedException {
    LinkedBlockingQueue<Frame> q = queue(group, stream);
    long deadline = System.nanoTime() + owner.timeout().toNanos();
    Frame f;
    while ((f = q.poll(POLL_NANOS, TimeUnit.NANOSECONDS)) == null) {
      owner.checkFailure();
      if (gone != null && q.isEmpty()) throw new TransportException(globalRank, gone);
      if (System.nanoTime() - deadline > 0) {
        throw new TransportException(globalRank, "timed out after " + owner.timeout().toSeconds()
            + " s waiting for data from global rank " + globalRank);
      }
    }
    if (f.op() != op || f.tag() != tag || f.len() != len) {
      release(f);
      String msg = "unexpected frame from global rank " + globalRank + ": got " + f.op().label() + " #" + f.tag() + " of "
          + f.len() + " elements, expected " + op.label() + " #" + tag + " of " + len
          + " (ranks issued different operations, or the stream is corrupt)";
      owner.fail(globalRank, msg);
      throw new TransportException(globalRank, msg);
    }
    return f;
  }

  /** Receives len elements sent by writeAll into a[off, +len). */
  void readAll(long group, long stream, CommOp op, int tag, float[] a, int off, int len) throws InterruptedException {
    int done = 0;
    do {
      int piece = Math.min(TcpWire.PIECE, len - done);
      Frame f = take(group, stream, op, tag, piece);
      f.copyTo(a, off + done);
      release(f);
      done += piece;
    } while (done < len);
  }

  /** Gives a frame's body back for reuse (pooled direct buffers only). */
  void release(Frame f) {
    ByteBuffer b = f.body();
    if (b == null || !b.isDirect()) return;
    if (pooled.incrementAndGet() <= POOL_MAX) {
      pool.add(b);
    } else {
      pooled.decrementAndGet();
    }
  }

  private ByteBuffer bodyBuffer(int bytes) {
    if (bytes == 0) return null;
    if (bytes <= SMALL_BODY || bytes > POOLED_BODY) return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    ByteBuffer b = pool.poll();
    if (b != null) {
      pooled.decrementAndGet();
    } else {
      b = ByteBuffer.allocateDirect(POOLED_BODY).order(ByteOrder.LITTLE_ENDIAN);
    }
    return b.clear();
  }

  private LinkedBlockingQueue<Frame> queue(long group, long stream) {
    return inbox.computeIfAbsent(group, g -> new ConcurrentHashMap<>())
        .computeIfAbsent(stream, s -> new LinkedBlockingQueue<>());
  }

  private void readLoop() {
    ByteBuffer header = ByteBuffer.allocateDirect(TcpWire.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    try {
      while (true) {
        header.clear();
        readFully(header);
        header.flip();
        int magic = header.getInt();
        int opCode = header.getInt();
        long group = header.getLong();
        int tag = header.getInt();
        int len = header.getInt();
        if (magic != TcpWire.FRAME_MAGIC) {
          garbage("bad frame magic 0x" + Integer.toHexString(magic));
          return;
        }
        if (opCode == TcpWire.GOODBYE) {
          gone = "global rank " + globalRank + " has closed its connection (it finished or shut down)";
          return;
        }
        if (opCode == TcpWire.ABORT) {
          if (len < 0 || len > TcpWire.MAX_TEXT || tag < 0 || tag >= owner.worldSize()) {
            garbage("malformed abort (rank " + tag + ", " + len + " bytes of reason)");
            return;
          }
          ByteBuffer text = ByteBuffer.allocate(len);
          readFully(text);
          String msg = new String(text.array(), 0, len, java.nio.charset.StandardCharsets.UTF_8)
              + (tag == globalRank ? "" : " (global rank " + globalRank + " stopped because of it)");
          gone = msg;
          owner.fail(tag, msg);
          return;
        }
        CommOp op = CommOp.fromCode(opCode);
        if (op == null) {
          garbage("unknown operation code " + opCode);
          return;
        }
        if (len < 0 || len > TcpWire.PIECE) {
          garbage("frame of " + (4L * len) + " bytes, over the limit of " + (4L * TcpWire.PIECE) + " (refused before allocation)");
          return;
        }
        ByteBuffer body = bodyBuffer(4 * len);
        if (body != null) {
          body.limit(4 * len);
          readFully(body);
          body.flip();
        }
        queue(group, op == CommOp.SEND ? tag : COLLECTIVE_STREAM).add(new Frame(op, group, tag, len, body));
      }
    } catch (ClosedChannelException e) {
      if (gone == null) gone = "connection to global rank " + globalRank + " closed";
    } catch (IOException e) {
      String msg = "lost the connection to global rank " + globalRank + " (the process died or the network failed): " + e.getMessage();
      gone = msg;
      owner.fail(globalRank, msg);
    }
  }

  private void garbage(String what) {
    String msg = "garbage from global rank " + globalRank + ": " + what;
    gone = msg;
    owner.fail(globalRank, msg);
    closeQuietly();
  }

  private void readFully(ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      if (channel.read(b) < 0) throw new EOFException("end of stream");
    }
  }

  /**
   * Tells the peer that this rank stops because global rank {@code culprit} failed ({@code reason}), so
   * that it reports that rank and not this one, then closes. Best effort: a peer already gone is skipped.
   */
  void abort(int culprit, String reason) {
    if (gone == null) {
      byte[] text = reason.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      int n = Math.min(text.length, TcpWire.MAX_TEXT);
      ByteBuffer b = ByteBuffer.allocate(TcpWire.HEADER_BYTES + n).order(ByteOrder.LITTLE_ENDIAN);
      b.putInt(TcpWire.FRAME_MAGIC).putInt(TcpWire.ABORT).putLong(0).putInt(culprit).putInt(n).put(text, 0, n).flip();
      synchronized (this) {
        try {
          while (b.hasRemaining()) channel.write(b);
        } catch (IOException ignored) {
          // the peer is gone already
        }
      }
    }
    closeQuietly();
  }

  /** Says goodbye (so the peer knows this is a clean close) and closes. */
  void close() {
    try {
      if (gone == null) write(TcpWire.GOODBYE, 0, 0, new float[0], 0, 0);
    } catch (RuntimeException ignored) {
      // the peer is gone already
    }
    closeQuietly();
  }

  private void closeQuietly() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }
}
