package dev.weft.comm;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Per-communicator accounting for metrics ({@code comm_ms}, {@code comm_bytes}, {@code exposed_comm_ms}):
 * for each kind of operation, how many ran, the bytes this rank moved (sent over the wire for tcp; copied
 * from peers' memory for local), and the wall time they ran (for async ops, time on the comm thread, which
 * may overlap compute); and the exposed time: the part of that run time during which the calling thread
 * was blocked waiting for it (all of a blocking op; of an async op, what ran after {@code await} began).
 * Exposed time is part of run time, so it never exceeds it. Thread-safe; the trainer reads the totals.
 */
public final class CommStats {
  /** Totals for one kind of operation. */
  public record Entry(long count, long bytes, long nanos) {
    public double millis() { return nanos / 1e6; }
  }

  private final long[] count = new long[CommOp.values().length];
  private final long[] bytes = new long[CommOp.values().length];
  private final long[] nanos = new long[CommOp.values().length];
  private long exposedNanos;
  /** When on, the [from, to] nanoTime intervals of exposed waits, for a trace ({@link #drainWaits}). */
  private java.util.List<long[]> waits;

  public synchronized void record(CommOp op, long movedBytes, long elapsedNanos) {
    count[op.ordinal()]++;
    bytes[op.ordinal()] += movedBytes;
    nanos[op.ordinal()] += elapsedNanos;
  }

  /** Adds time the caller waited while an op ran (at most that op's recorded run time). */
  public synchronized void recordExposed(long waitedNanos) {
    exposedNanos += waitedNanos;
  }

  /** As {@link #recordExposed(long)}, the wait being the interval [fromNanos, toNanos] of System.nanoTime. */
  public synchronized void recordExposed(long fromNanos, long toNanos) {
    long d = Math.max(0, toNanos - fromNanos);
    exposedNanos += d;
    if (waits != null && d > 0) waits.add(new long[] {fromNanos, toNanos});
  }

  /** Starts keeping the intervals of exposed waits (for a trace); cheap, but only on when asked. */
  public synchronized void keepWaits() {
    if (waits == null) waits = new java.util.ArrayList<>();
  }

  /** The wait intervals kept since the last call ({from, to} nanoTime pairs), and forgets them. */
  public synchronized java.util.List<long[]> drainWaits() {
    if (waits == null) return java.util.List.of();
    java.util.List<long[]> w = waits;
    waits = new java.util.ArrayList<>();
    return w;
  }

  public synchronized Entry get(CommOp op) {
    return new Entry(count[op.ordinal()], bytes[op.ordinal()], nanos[op.ordinal()]);
  }

  /** A copy of every non-empty entry. */
  public synchronized Map<CommOp, Entry> snapshot() {
    Map<CommOp, Entry> m = new EnumMap<>(CommOp.class);
    for (CommOp op : CommOp.values()) if (count[op.ordinal()] > 0) m.put(op, get(op));
    return m;
  }

  public synchronized long totalBytes() {
    long s = 0;
    for (long b : bytes) s += b;
    return s;
  }

  public synchronized double totalMillis() {
    long s = 0;
    for (long n : nanos) s += n;
    return s / 1e6;
  }

  /** Of {@link #totalMillis}, the part the calling thread spent blocked waiting for it. */
  public synchronized double exposedMillis() {
    return exposedNanos / 1e6;
  }

  public synchronized void reset() {
    exposedNanos = 0;
    java.util.Arrays.fill(count, 0);
    java.util.Arrays.fill(bytes, 0);
    java.util.Arrays.fill(nanos, 0);
  }

  @Override
  public synchronized String toString() {
    StringBuilder sb = new StringBuilder();
    for (var e : snapshot().entrySet()) {
      if (!sb.isEmpty()) sb.append(", ");
      sb.append(String.format(Locale.ROOT, "%s x%d %d B %.2f ms", e.getKey().label(), e.getValue().count(),
          e.getValue().bytes(), e.getValue().millis()));
    }
    return sb.isEmpty() ? "no communication" : sb.toString();
  }
}
