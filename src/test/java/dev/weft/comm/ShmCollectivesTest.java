package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The tcp backend's shared-memory path (transport AUTO, ranks as threads of this JVM, so all on one
 * host) with tiny slots, so that lengths 0, 1, not divisible by the group and across many round
 * boundaries are all exercised; results compared bit for bit with a sequential computation, files
 * checked to be gone.
 */
class ShmCollectivesTest {
  private static final String TOKEN_PREFIX = "weft-" + Long.toHexString(TcpWire.groupId("token:test-token")) + "-";

  private static long leftoverFiles() throws IOException {
    try (Stream<Path> s = Files.list(ShmGroup.directory())) {
      return s.filter(p -> p.getFileName().toString().startsWith(TOKEN_PREFIX)).count();
    }
  }

  @Test
  void everyCollectiveMatchesSequentialOnRandomGroupsAcrossRoundBoundaries() throws Exception {
    SplittableRandom r = new SplittableRandom(11);
    for (int trial = 0; trial < 8; trial++) {
      int world = 2 + r.nextInt(4);
      ParallelLayout layout = LocalCollectivesTest.randomLayout(world, r);
      Axis[] axes = LocalCollectivesTest.AXIS_SETS[r.nextInt(LocalCollectivesTest.AXIS_SETS.length)];
      int slotBytes = 4 * (16 + r.nextInt(200)); // 16..215 floats per slot
      int slot = slotBytes / 4;
      int[] lengths = {0, 1, 2 + r.nextInt(9), slot - 1, slot + 1, 3 * slot + r.nextInt(7), 1 + r.nextInt(2000)};
      long seed = r.nextLong();
      TcpThreads.run(world, Duration.ofSeconds(10), TcpBackend.Transport.AUTO, slotBytes, b -> {
        CollectiveChecks checks = new CollectiveChecks(b, seed, layout, axes);
        Communicator c = checks.communicator();
        assertThat(((TcpCommunicator) c).shmForTest() != null).as("shared memory in use").isEqualTo(c.size() > 1);
        checks.runAll(lengths);
        b.world().barrier();
      });
    }
    assertThat(leftoverFiles()).isZero();
  }

  /**
   * Non-integer values (the summation order matters): every rank ends with the same bits as a
   * sequential rank-order computation, for every op, while two communicators run at once (async
   * all-reduces on the world and on pairs). The file is unlinked after the first collective, and
   * the byte accounting matches the socket ring's 2(n-1)/n x 4L.
   */
  @Test
  void rankOrderResultsIdenticalOnEveryRankWithConcurrentGroups() throws Exception {
    int world = 4;
    int len = 10 * 1024 + 3;
    float[][] inputs = new float[world][len];
    for (int q = 0; q < world; q++) {
      SplittableRandom rq = new SplittableRandom(q + 100);
      for (int i = 0; i < len; i++) inputs[q][i] = (float) rq.nextGaussian();
    }
    TcpThreads.run(world, Duration.ofSeconds(10), TcpBackend.Transport.AUTO, 4096, b -> {
      Communicator all = b.world();
      int lo = b.rank() / 2 * 2;
      Communicator pair = b.group(lo, lo + 1);
      for (ReduceOp op : ReduceOp.values()) {
        float[] x = inputs[b.rank()].clone();
        float[] y = inputs[b.rank()].clone();
        Handle hx = all.allReduceAsync(x, 0, len, op);
        Handle hy = pair.allReduceAsync(y, 0, len, op);
        hy.await();
        hx.await();
        float[] wantAll = inputs[0].clone();
        for (int q = 1; q < world; q++) op.combine(wantAll, 0, inputs[q], 0, len);
        op.finish(wantAll, 0, len, world);
        float[] wantPair = inputs[lo].clone();
        op.combine(wantPair, 0, inputs[lo + 1], 0, len);
        op.finish(wantPair, 0, len, 2);
        assertThat(Arrays.equals(x, wantAll)).as("world %s at rank %d", op, b.rank()).isTrue();
        assertThat(Arrays.equals(y, wantPair)).as("pair %s at rank %d", op, b.rank()).isTrue();
      }
      assertThat(Files.exists(((TcpCommunicator) all).shmForTest().file())).as("unlinked once all opened").isFalse();
      long bytes = all.stats().get(CommOp.ALL_REDUCE).bytes();
      long ring = 3L * 2 * (world - 1) * 4 * len / world;
      assertThat(bytes).isBetween(ring - 3 * 64, ring + 3 * 64);
    });
    assertThat(leftoverFiles()).isZero();
  }

  @Test
  void ranksInDifferentCollectivesAreDetected() {
    assertThatThrownBy(() -> TcpThreads.run(2, Duration.ofSeconds(5), TcpBackend.Transport.AUTO, 4096, b -> {
      Communicator c = b.world();
      if (b.rank() == 0) c.allReduce(new float[10], 0, 10, ReduceOp.SUM);
      else c.allGather(new float[5], 0, new float[10], 0, 5);
    })).isInstanceOf(CommException.class).hasMessageContaining("different operations");
  }

  /** A rank that dies before opening the segment: the creator fails fast naming it and deletes the file. */
  @Test
  void aPeerThatDiesBeforeOpeningFailsTheCreatorFastAndLeavesNoFile() throws Exception {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> TcpThreads.run(3, Duration.ofSeconds(20), TcpBackend.Transport.AUTO, 4096, b -> {
      Communicator c = b.world();
      if (b.rank() == 2) {
        for (int p = 0; p < 2; p++) ((TcpBackend) b).peer(p).channelForTest().close();
        return;
      }
      c.allReduce(new float[1000], 0, 1000, ReduceOp.SUM);
    })).isInstanceOf(CommException.class)
        .hasMessageContaining("allReduce")
        .hasMessageContaining("global rank 2");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    assertThat(leftoverFiles()).isZero();
  }

  /** A peer that vanishes in the middle of a long shared-memory all-reduce (many rounds). */
  @Test
  void aPeerThatVanishesMidCollectiveFailsTheOthersFast() throws Exception {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> TcpThreads.run(3, Duration.ofSeconds(20), TcpBackend.Transport.AUTO, 1024, b -> {
      Communicator c = b.world();
      c.barrier();
      float[] x = new float[200_000];
      if (b.rank() == 1) {
        // Die in the middle: a helper kills the sockets while this rank is inside the collective.
        Thread killer = Thread.ofVirtual().start(() -> {
          try {
            Thread.sleep(50);
            for (int p : new int[] {0, 2}) ((TcpBackend) b).peer(p).channelForTest().close();
          } catch (Exception ignored) {
            // test helper
          }
        });
        try {
          for (int i = 0; i < 1000; i++) c.allReduce(x, 0, x.length, ReduceOp.SUM);
        } finally {
          killer.join();
        }
        return;
      }
      for (int i = 0; i < 1000; i++) c.allReduce(x, 0, x.length, ReduceOp.SUM);
    })).isInstanceOf(CommException.class)
        .hasMessageContaining("allReduce")
        .hasMessageContaining("global rank 1");
    // Well inside the 20 s timeout: the survivors notice the dead sockets, not the timeout (the bound leaves
    // room for a machine loaded by other builds).
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(12));
    assertThat(leftoverFiles()).isZero();
  }
}
