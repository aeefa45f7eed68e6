package dev.weft.train;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Progress of a run. On a terminal: a bar redrawn in place every step, with loss, tokens/s and the time
 * left. Otherwise (a log, a pipe): one line for each of the first {@link #FIRST_STEPS} steps, then one line
 * whenever {@link #EVERY_NANOS} have passed since the last one, and always for a step that evaluated and
 * for the last step, so that a long run is never silent for more than a few seconds. Lines that are not
 * progress (a checkpoint saved, a sample) go through {@link #line}, which ends the bar first.
 *
 * <p>Time left ("eta") is the steps still to run times the mean wall time per step so far, measured on the
 * injected clock from the start of the first step this printer saw (a resumed run starts there), so it
 * includes evaluation and saving as they happen.
 */
final class ProgressPrinter {
  /** Steps printed one by one at the start (the JIT warms up there; people look at it). */
  static final int FIRST_STEPS = 3;
  /** At most this long between two progress lines in a log. */
  static final long EVERY_NANOS = 5_000_000_000L;

  private final PrintStream out;
  private final int lastStep;
  private final boolean terminal;
  private final LongSupplier clock;
  private boolean barShown;
  private int linesPrinted;
  private long lastLineAt;
  private long startAt;
  private int startStep = -1;

  ProgressPrinter(PrintStream out, int lastStep) {
    this(out, lastStep, System.console() != null && System.console().isTerminal(), System::nanoTime);
  }

  /** For tests: whether to draw the bar, and the clock (nanoseconds). */
  ProgressPrinter(PrintStream out, int lastStep, boolean terminal, LongSupplier clock) {
    this.out = out;
    this.lastStep = lastStep;
    this.terminal = terminal;
    this.clock = clock;
  }

  void step(StepMetrics m) {
    long now = clock.getAsLong();
    if (startStep < 0) { // the first step seen (a resumed run starts late): measure from its start
      startStep = m.step() - 1;
      startAt = now - Math.round(m.stepMs() * 1e6);
    }
    String val = Double.isNaN(m.valLoss()) ? "" : String.format(Locale.ROOT, "  val %.4f", m.valLoss());
    String text = String.format(Locale.ROOT, "step %d/%d  loss %.4f%s  lr %.2e  norm %.3f  %.0f tok/s  %.0f ms%s",
        m.step(), lastStep, m.loss(), val, m.lr(), m.gradNorm(), m.tokensPerS(), m.stepMs(), eta(m.step(), now));
    if (terminal) {
      int width = 24;
      int done = (int) Math.round(width * (double) m.step() / lastStep);
      String bar = "#".repeat(done) + "-".repeat(width - done);
      out.print("\r[" + bar + "] " + text + "   ");
      barShown = true;
      if (!val.isEmpty()) {
        out.println();
        barShown = false;
      }
    } else if (linesPrinted < FIRST_STEPS || now - lastLineAt >= EVERY_NANOS || m.step() == lastStep
        || !val.isEmpty()) {
      out.println(text);
      linesPrinted++;
      lastLineAt = now;
    }
    out.flush();
  }

  /** A line that is not progress, e.g. "saved checkpoint step 100 to runs/x"; on a terminal it ends the bar first. */
  void line(String text) {
    if (barShown) {
      out.println();
      barShown = false;
    }
    out.println(text);
    out.flush();
  }

  void finish() {
    if (barShown) out.println();
    barShown = false;
  }

  /** "  eta 1m05s", or nothing at the last step. */
  private String eta(int step, long now) {
    int done = step - startStep;
    int left = lastStep - step;
    if (left <= 0 || done <= 0) return "";
    double perStep = (now - startAt) / (double) done;
    return "  eta " + duration(Math.round(perStep * left / 1e9));
  }

  /** 42s, 3m07s, 2h05m. */
  static String duration(long seconds) {
    if (seconds < 60) return seconds + "s";
    if (seconds < 3600) return String.format(Locale.ROOT, "%dm%02ds", seconds / 60, seconds % 60);
    return String.format(Locale.ROOT, "%dh%02dm", seconds / 3600, (seconds % 3600) / 60);
  }
}
