package dev.weft.comm;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Per-communicator accounting for metrics ({@code comm_ms}, {@code comm_bytes}): for each kind of
 * operation, how many ran, the bytes this rank moved (sent over the wire for tcp; copied from peers'
 * memory for local), and the wall time spent in them (for async ops, time on the comm thread, which
 * may overlap compute). Thread-safe; the trainer reads it and resets it every step.
 */
public final class CommStats {
  /** Totals for one kind of operation. */
  public record Entry(long count, long bytes, long nanos) {
    public double millis() { return nanos / 1e6; }
  }

  private final long[] count = new long[CommOp.values().length];
  private final long[] bytes = new long[CommOp.values().length];
  private final long[] nanos = new long[CommOp.values().length];

  public synchronized void record(CommOp op, long movedBytes, long elapsedNanos) {
    count[op.ordinal()]++;
    bytes[op.ordinal()] += movedBytes;
    nanos[op.ordinal()] += elapsedNanos;
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

  public synchronized void reset() {
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
