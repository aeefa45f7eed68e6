package dev.weft.parallel.pp;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What one rank did during one {@link PipelineExecutor#run}: a span per action (start and end in
 * {@link System#nanoTime()}, kind, stage, micro-batch). For receives the span is the time spent waiting for the
 * message. Enough for a trace writer (Chrome trace events) and for bubble measurements.
 */
public final class Timeline {
  /** One action's time span. */
  public record Span(Action.Kind kind, int stage, int microBatch, long startNanos, long endNanos) {
    public long nanos() { return endNanos - startNanos; }
  }

  private final int rank;
  private final List<Span> spans = new ArrayList<>();
  private long startNanos;
  private long endNanos;

  public Timeline(int rank) {
    this.rank = rank;
  }

  void begin(long t) { startNanos = t; }

  void end(long t) { endNanos = t; }

  void add(Action a, long start, long end) {
    spans.add(new Span(a.kind(), a.stage(), a.microBatch(), start, end));
  }

  /** The PP rank this timeline belongs to. */
  public int rank() { return rank; }

  public List<Span> spans() { return Collections.unmodifiableList(spans); }

  /** When the run started and ended on this rank (nanoTime). */
  public long startNanos() { return startNanos; }

  public long endNanos() { return endNanos; }

  /** Time spent in compute actions (F, B, BI, BW). */
  public long computeNanos() {
    long t = 0;
    for (Span s : spans) if (s.kind().isCompute()) t += s.nanos();
    return t;
  }

  /** Idle fraction over the window [from, to): 1 - compute time / window. */
  public double idleFraction(long fromNanos, long toNanos) {
    return 1 - (double) computeNanos() / (toNanos - fromNanos);
  }
}
