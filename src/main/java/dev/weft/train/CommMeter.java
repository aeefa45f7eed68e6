package dev.weft.train;

import dev.weft.comm.Communicator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The communication of one rank over every group it trains in (data/context, tensor, context and pipeline
 * parallelism), read as running totals: before and after a step, the difference is that step's share of
 * the metrics {@code comm_ms}, {@code comm_bytes} and {@code exposed_comm_ms} (see {@link
 * dev.weft.comm.CommStats} for what run and exposed time are; exposed is part of run, so it never exceeds
 * it). The world group, used only for the metrics' own exchange, checkpoints and samples, is left out.
 */
final class CommMeter {
  private final List<Communicator> groups;

  /** Over these groups; nulls (axes of size one with no group) are skipped. */
  CommMeter(Communicator... groups) {
    this.groups = new ArrayList<>(Arrays.stream(groups).filter(Objects::nonNull).distinct().toList());
  }

  /** Adds more groups (a pipeline's). */
  CommMeter with(List<Communicator> more) {
    for (Communicator c : more) if (c != null && !groups.contains(c)) groups.add(c);
    return this;
  }

  /** Nanoseconds that communication ran so far. */
  long nanos() {
    return Math.round(groups.stream().mapToDouble(c -> c.stats().totalMillis()).sum() * 1e6);
  }

  /** Of {@link #nanos}, those the rank spent blocked waiting for it. */
  long exposedNanos() {
    return Math.round(groups.stream().mapToDouble(c -> c.stats().exposedMillis()).sum() * 1e6);
  }

  /** Bytes this rank moved so far. */
  long bytes() {
    return groups.stream().mapToLong(c -> c.stats().totalBytes()).sum();
  }
}
