package dev.weft.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Why a rank's barrier task failed, thrown on the executor and read back on the driver. Spark hands a
 * failed barrier task's exception to the driver only as text (the stage is aborted with the task's stack
 * trace as its reason), so the kind and the exit code travel in the message, in front of the words meant
 * for the user: {@code SETUP 2 | --data /x is not there on host h2 (ranks 2, 3) ...}.
 */
public final class RankFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private static final Pattern IN_TEXT = Pattern.compile(
      Pattern.quote(RankFailure.class.getName()) + ": (SETUP|START|EXIT) (-?\\d+) \\| (.*?)(?:\\n\\s+at |\\nDriver stacktrace|\\z)",
      Pattern.DOTALL);

  /** What went wrong. */
  public enum Kind {
    /** A check before the ranks started (a path, the rank's java): bad input, not worth a restart. */
    SETUP,
    /** The rank's process could not be started. */
    START,
    /** The rank's process exited non-zero (2: Weft refused its input). */
    EXIT
  }

  private final Kind kind;
  private final int exitCode;
  private final String detail;

  public RankFailure(Kind kind, int exitCode, String detail) {
    // No stack trace: where in the task it was thrown says nothing to the user, and Spark logs it once per task.
    super(kind + " " + exitCode + " | " + detail, null, false, false);
    this.kind = kind;
    this.exitCode = exitCode;
    this.detail = detail;
  }

  public Kind kind() {
    return kind;
  }

  /** The rank's exit code (EXIT), or 2 for SETUP, 1 for START. */
  public int exitCode() {
    return exitCode;
  }

  /** The words for the user. */
  public String detail() {
    return detail;
  }

  /** True when a restart cannot help: a setup check failed, or a rank exited with Weft's bad-input code 2. */
  public boolean isBadInput() {
    return kind == Kind.SETUP || (kind == Kind.EXIT && exitCode == 2);
  }

  /** The failure a task threw, found in the text (a stage-abort reason) Spark gives the driver, or null. */
  public static RankFailure find(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof RankFailure f) return f;
      String m = c.getMessage();
      if (m != null) {
        Matcher x = IN_TEXT.matcher(m);
        if (x.find()) return new RankFailure(Kind.valueOf(x.group(1)), Integer.parseInt(x.group(2)), x.group(3).strip());
      }
    }
    return null;
  }
}
