package dev.weft.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of a run: on a terminal a bar redrawn in place with loss and tokens/s; otherwise (a log,
 * a pipe) one line about every twentieth step, and every step that evaluated.
 */
final class ProgressPrinter {
  private final PrintStream out;
  private final int lastStep;
  private final boolean terminal = System.console() != null && System.console().isTerminal();
  private final int every;
  private boolean barShown;

  ProgressPrinter(PrintStream out, int lastStep) {
    this.out = out;
    this.lastStep = lastStep;
    this.every = Math.max(1, lastStep / 20);
  }

  void step(StepMetrics m) {
    String val = Double.isNaN(m.valLoss()) ? "" : String.format(Locale.ROOT, "  val %.4f", m.valLoss());
    String text = String.format(Locale.ROOT, "step %d/%d  loss %.4f%s  lr %.2e  norm %.3f  %.0f tok/s  %.0f ms",
        m.step(), lastStep, m.loss(), val, m.lr(), m.gradNorm(), m.tokensPerS(), m.stepMs());
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
    } else if (m.step() % every == 0 || m.step() == lastStep || m.step() == 1 || !val.isEmpty()) {
      out.println(text);
    }
    out.flush();
  }

  void finish() {
    if (barShown) out.println();
  }
}
