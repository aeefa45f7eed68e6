package dev.weft.comm;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * The tcp backend's wire format.
 *
 * <p>Handshake (every connection, both the rendezvous and the mesh): the connecting side sends
 * {@code HELLO_MAGIC, VERSION, token (u16 length + UTF-8), rank, worldSize}; the accepting side checks
 * the job token (constant-time) and answers {@code status (0 ok, 1 refused), message}.
 *
 * <p>Frames (after the handshake), little-endian: a 24-byte header {@code FRAME_MAGIC (i32), op
 * (i32, a CommOp ordinal or GOODBYE), group id (i64), tag (i32: the collective's sequence number or
 * the user's tag), length (i32, float elements)} and then length x 4 bytes of float32 data. A frame
 * holds at most {@link #PIECE} elements; larger messages are cut into pieces. The reader refuses a bad
 * magic, an unknown op or a length over PIECE before allocating anything; the receiving op then checks
 * op, tag and exact length against what it expects.
 *
 * <p>Two frames end a connection: {@link #GOODBYE} (a clean close, no body) and {@link #ABORT} (this rank
 * is stopping because of a failure: tag = the global rank to blame, length = bytes of a UTF-8 reason of
 * at most {@link #MAX_TEXT}, which follow). An abort lets every survivor name the rank that failed first
 * rather than the neighbour that stopped after noticing it.
 */
final class TcpWire {
  static final int HELLO_MAGIC = 0x57454648; // "WEFH"
  static final int FRAME_MAGIC = 0x57454654; // "WEFT"
  static final int VERSION = 2; // 2: host ids and the job nonce at the rendezvous
  static final int HEADER_BYTES = 24;
  /** The most elements a frame may carry: 1 MiB of floats (the ring algorithms use smaller frames). */
  static final int PIECE = 256 * 1024;
  static final int GOODBYE = 0x7f;
  static final int ABORT = 0x7e;
  static final int MAX_TEXT = 4096;

  private TcpWire() {}

  /** Writes the whole hello in one write, so a peer that refuses it never cuts the hello in half. */
  static void writeHello(DataOutputStream out, String token, int rank, int worldSize) throws IOException {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    DataOutputStream hello = new DataOutputStream(bytes);
    hello.writeInt(HELLO_MAGIC);
    hello.writeInt(VERSION);
    writeText(hello, token);
    hello.writeInt(rank);
    hello.writeInt(worldSize);
    hello.flush();
    out.write(bytes.toByteArray());
    out.flush();
  }

  /** The rank a hello announces, after checking magic, version, token and world size; throws with the reason otherwise. */
  static int readHello(DataInputStream in, String token, int worldSize) throws IOException {
    int magic = in.readInt();
    if (magic != HELLO_MAGIC) throw new RefusedException("not a Weft connection (bad magic 0x" + Integer.toHexString(magic) + ")");
    int version = in.readInt();
    if (version != VERSION) throw new RefusedException("wire version " + version + ", expected " + VERSION);
    String theirs = readText(in);
    // Read the whole hello before judging it, so the refusal reaches a peer that is not still writing.
    int rank = in.readInt();
    int ws = in.readInt();
    if (!MessageDigest.isEqual(theirs.getBytes(StandardCharsets.UTF_8), token.getBytes(StandardCharsets.UTF_8))) {
      throw new RefusedException("job token refused: the connecting process's WEFT_JOB_TOKEN differs from this job's"
          + " (it belongs to another job, or was not started by the same 'weft launch')");
    }
    if (ws != worldSize) throw new RefusedException("world size " + ws + " differs from this job's " + worldSize);
    if (rank < 0 || rank >= worldSize) throw new RefusedException("rank " + rank + " outside [0, " + worldSize + ")");
    return rank;
  }

  static void writeStatus(DataOutputStream out, String refusal) throws IOException {
    out.writeInt(refusal == null ? 0 : 1);
    writeText(out, refusal == null ? "" : refusal);
    out.flush();
  }

  /** Reads the answer to a hello; throws with the peer's reason if it refused. */
  static void readStatus(DataInputStream in, String who) throws IOException {
    int status = in.readInt();
    String msg = readText(in);
    if (status != 0) throw new RefusedException(who + " refused the connection: " + msg);
  }

  static void writeText(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length > MAX_TEXT) throw new IOException("text too long for the wire: " + b.length + " bytes");
    out.writeShort(b.length);
    out.write(b);
  }

  static String readText(DataInputStream in) throws IOException {
    int n = in.readUnsignedShort();
    if (n > MAX_TEXT) throw new RefusedException("text of " + n + " bytes over the limit " + MAX_TEXT);
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  /** A stable 64-bit id (FNV-1a) for a group instance key such as "[0, 2]#0". */
  static long groupId(String key) {
    long h = 0xcbf29ce484222325L;
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }

  /** A handshake the other side refused, or that this side refuses. */
  static final class RefusedException extends IOException {
    RefusedException(String message) {
      super(message);
    }
  }
}
