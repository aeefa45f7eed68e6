package dev.weft.spark;

/**
 * A Weft job on Spark that could not run or did not finish: the message names the problem and the fix;
 * {@link #exitCode()} is Weft's (2 bad input, 1 anything else).
 */
public final class WeftSparkException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  public WeftSparkException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  public WeftSparkException(int exitCode, String message, Throwable cause) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  /** 2 when the input was wrong (no restart can help), 1 otherwise. */
  public int exitCode() {
    return exitCode;
  }
}
