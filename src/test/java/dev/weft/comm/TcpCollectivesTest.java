package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The collective property checks on the tcp backend, ranks as threads with real loopback sockets,
 * with each transport: AUTO (all ranks on this host, so collectives go through shared memory) and
 * SOCKET.
 */
class TcpCollectivesTest {
  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void everyCollectiveMatchesSequentialOnRandomGroups(TcpBackend.Transport transport) throws Exception {
    SplittableRandom r = new SplittableRandom(7);
    for (int trial = 0; trial < 6; trial++) {
      int world = 1 + r.nextInt(5);
      ParallelLayout layout = LocalCollectivesTest.randomLayout(world, r);
      Axis[] axes = LocalCollectivesTest.AXIS_SETS[r.nextInt(LocalCollectivesTest.AXIS_SETS.length)];
      int[] lengths = {0, 1, 2 + r.nextInt(9), 1 + r.nextInt(3000)};
      long seed = r.nextLong();
      TcpThreads.run(world, Duration.ofSeconds(10), transport, b -> {
        new CollectiveChecks(b, seed, layout, axes).runAll(lengths);
        b.world().barrier();
      });
    }
  }

  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void largeRingAllReduceAndUnevenCountsOverSeveralPieces(TcpBackend.Transport transport) throws Exception {
    int len = 3 * TcpWire.PIECE + 12345; // ring path, segments cut into several pieces (shm: several rounds)
    TcpThreads.run(3, Duration.ofSeconds(20), transport, b -> {
      Communicator c = b.world();
      float[] x = new float[len];
      for (int i = 0; i < len; i++) x[i] = (i % 1000) * (b.rank() + 1);
      c.allReduce(x, 0, len, ReduceOp.SUM);
      for (int i = 0; i < len; i += 997) assertThat(x[i]).isEqualTo((i % 1000) * 6f);
      assertThat(c.stats().get(CommOp.ALL_REDUCE).bytes()).isBetween(4L * len * 4 / 3 - 16, 4L * len * 4 / 3 + 16);
      int[] counts = {TcpWire.PIECE + 3, 0, 2 * TcpWire.PIECE + 1};
      float[] mine = new float[counts[c.rank()]];
      java.util.Arrays.fill(mine, b.rank() + 0.5f);
      float[] all = new float[counts[0] + counts[1] + counts[2]];
      c.allGather(mine, 0, all, 0, counts);
      assertThat(all[0]).isEqualTo(0.5f);
      assertThat(all[all.length - 1]).isEqualTo(2.5f);
      float[] out = new float[counts[c.rank()]];
      c.reduceScatter(all, 0, out, 0, counts, ReduceOp.AVG);
      if (out.length > 0) assertThat(out[out.length - 1]).isEqualTo(c.rank() + 0.5f);
    });
  }

  /**
   * The pipelined ring across many frames (RING_CHUNK) with lengths not divisible by the ranks or the
   * chunk: every rank ends with identical bits (non-integer values, so the summation order matters),
   * and the out-of-place reduce-scatter (alternating scratch slots, 4 ranks) leaves its input alone.
   */
  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void pipelinedRingIsIdenticalOnEveryRankAndReduceScatterKeepsItsInput(TcpBackend.Transport transport) throws Exception {
    int world = 4;
    int len = 5 * TcpCommunicator.RING_CHUNK + 4 * 777 + 3;
    float[][] results = new float[world][];
    TcpThreads.run(world, Duration.ofSeconds(30), transport, b -> {
      Communicator c = b.world();
      java.util.SplittableRandom r = new java.util.SplittableRandom(b.rank());
      float[] x = new float[len];
      for (int i = 0; i < len; i++) x[i] = (float) r.nextGaussian();
      float[] want = new float[len];
      for (int q = 0; q < world; q++) {
        java.util.SplittableRandom rq = new java.util.SplittableRandom(q);
        for (int i = 0; i < len; i++) want[i] += (float) rq.nextGaussian();
      }
      float[] in = x.clone();
      c.allReduce(x, 0, len, ReduceOp.SUM);
      results[b.rank()] = x;
      for (int i = 0; i < len; i += 101) assertThat(x[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4f));
      int[] counts = {2 * TcpCommunicator.RING_CHUNK + 1, 0, 3, len - 2 * TcpCommunicator.RING_CHUNK - 4};
      long[] o = Communicator.offsets(counts);
      float[] copy = in.clone();
      float[] out = new float[counts[c.rank()]];
      c.reduceScatter(in, 0, out, 0, counts, ReduceOp.SUM);
      assertThat(java.util.Arrays.equals(in, copy)).as("reduceScatter input untouched").isTrue();
      for (int i = 0; i < out.length; i += 53) {
        assertThat(out[i]).isCloseTo(want[(int) o[c.rank()] + i], org.assertj.core.data.Offset.offset(1e-4f));
      }
    });
    for (int q = 1; q < world; q++) assertThat(java.util.Arrays.equals(results[q], results[0])).as("rank %d", q).isTrue();
  }
}
