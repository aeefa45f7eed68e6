package dev.weft.comm;

/**
 * An asynchronous communication operation in flight. {@link #await()} returns once it has completed
 * (its buffers may then be read and reused) or throws the {@link CommException} it failed with.
 * The operation itself runs under the communicator's timeout, so await cannot wait forever.
 */
public interface Handle {
  /** Blocks until the operation completes; rethrows its failure as a CommException. */
  void await();

  /** True once the operation has completed, successfully or not. */
  boolean isDone();

  /** A handle for an operation that is already complete. */
  static Handle completed() {
    return new Handle() {
      @Override public void await() {}
      @Override public boolean isDone() { return true; }
    };
  }
}
