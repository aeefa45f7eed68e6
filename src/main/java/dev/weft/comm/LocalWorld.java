package dev.weft.comm;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The state the threads of one in-process world share: the rendezvous object of every group and the
 * first failure of any rank, which makes every wait in every group fail fast.
 */
final class LocalWorld {
  /** The first rank that failed, and why. */
  record Failure(int rank, Throwable cause) {
    String describe() {
      return "global rank " + rank + " failed: " + cause;
    }
  }

  final int size;
  final Duration timeout;
  private final AtomicReference<Failure> failure = new AtomicReference<>();
  private final ConcurrentHashMap<String, LocalRendezvous> groups = new ConcurrentHashMap<>();

  LocalWorld(int size, Duration timeout) {
    this.size = size;
    this.timeout = timeout;
  }

  /** The rendezvous of the group instance {@code key}, created by whichever member asks first. */
  LocalRendezvous rendezvous(String key, int[] globalRanks) {
    return groups.computeIfAbsent(key, k -> new LocalRendezvous(this, globalRanks));
  }

  /** Records the first failure and wakes every waiting rank. Returns true if this was the first. */
  boolean fail(int rank, Throwable cause) {
    boolean first = failure.compareAndSet(null, new Failure(rank, cause));
    if (first) groups.values().forEach(LocalRendezvous::wake);
    return first;
  }

  Failure failure() {
    return failure.get();
  }
}
