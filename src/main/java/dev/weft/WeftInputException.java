package dev.weft;

/**
 * Bad input from the user: an impossible layout, a malformed file, nonsense hyper-parameters.
 * The CLI turns it into exit code 2 and prints its message (one paragraph that names the problem and
 * the fix) without a stack trace.
 */
public class WeftInputException extends RuntimeException {
  public WeftInputException(String message) {
    super(message);
  }

  public WeftInputException(String message, Throwable cause) {
    super(message, cause);
  }
}
