package dev.weft.comm;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Runs one body per rank, each on its own thread with its own {@link LocalBackend}: the runner for
 * distributed tests in one JVM and for the trainer's {@code --devices local}. The first failure of any
 * rank is published to all ranks, so ranks blocked in a collective fail fast with a
 * {@link CommException} that names the failed rank; {@link #run} then rethrows that first failure.
 */
public final class LocalCluster {
  /** What each rank runs. */
  @FunctionalInterface
  public interface RankBody {
    void run(Backend backend) throws Exception;
  }

  private LocalCluster() {}

  /**
   * Runs {@code body} on {@code worldSize} rank threads and waits for all of them.
   *
   * @param timeout the bound on every communication wait (and, once a rank has failed, on how long the
   *     others get to stop)
   * @throws Exception the first failure of any rank, as that rank threw it
   */
  public static void run(int worldSize, Duration timeout, RankBody body) throws Exception {
    if (worldSize < 1) throw new IllegalArgumentException("world size must be >= 1, got " + worldSize);
    LocalWorld world = new LocalWorld(worldSize, timeout);
    Thread[] threads = new Thread[worldSize];
    for (int r = 0; r < worldSize; r++) {
      int rank = r;
      threads[r] = new Thread(() -> {
        try (LocalBackend backend = new LocalBackend(world, rank)) {
          body.run(backend);
        } catch (Throwable t) {
          world.fail(rank, t);
        }
      }, "weft-rank-" + r);
      threads[r].setDaemon(true);
      threads[r].start();
    }
    long graceEnd = Long.MAX_VALUE;
    for (Thread t : threads) {
      while (t.isAlive()) {
        if (world.failure() != null && graceEnd == Long.MAX_VALUE) {
          graceEnd = System.nanoTime() + timeout.toNanos() + TimeUnit.SECONDS.toNanos(1);
        }
        if (System.nanoTime() - graceEnd > 0) {
          for (Thread u : threads) u.interrupt();
          t.join(1000);
          break;
        }
        t.join(50);
      }
    }
    LocalWorld.Failure f = world.failure();
    if (f == null) return;
    Throwable cause = f.cause();
    cause.addSuppressed(new CommException("global rank " + f.rank() + " of " + worldSize
        + " failed first; the other ranks were stopped"));
    if (cause instanceof Exception e) throw e;
    if (cause instanceof Error e) throw e;
    throw new CommException("global rank " + f.rank() + " failed", cause);
  }
}
