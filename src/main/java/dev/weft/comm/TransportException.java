package dev.weft.comm;

/**
 * A failure inside a backend, naming the peer (global rank, or -1 when none is to blame) and what
 * went wrong; the communicator turns it into a {@link CommException} that adds the operation and group.
 */
public class TransportException extends RuntimeException {
  private final int peer;

  public TransportException(int peerGlobalRank, String detail) {
    this(peerGlobalRank, detail, null);
  }

  public TransportException(int peerGlobalRank, String detail, Throwable cause) {
    super(detail, cause);
    this.peer = peerGlobalRank;
  }

  /** The global rank of the peer involved, or -1. */
  public int peer() {
    return peer;
  }
}
