package dev.weft.comm;

/**
 * A communication operation failed: a timeout, a dead or failed peer, garbage on the wire, or ranks
 * that issued different collectives. The message names the operation, the group and the peer.
 */
public class CommException extends RuntimeException {
  public CommException(String message) {
    super(message);
  }

  public CommException(String message, Throwable cause) {
    super(message, cause);
  }
}
