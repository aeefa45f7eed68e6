package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class LocalCollectivesTest {
  static final Axis[][] AXIS_SETS = {
      {Axis.DP}, {Axis.PP}, {Axis.CP}, {Axis.TP}, {Axis.DP, Axis.CP}, Axis.values()};

  /** A random layout of worldSize ranks: worldSize factored into dp, pp, cp, tp. */
  static ParallelLayout randomLayout(int worldSize, SplittableRandom r) {
    int[] d = {1, 1, 1, 1};
    int rest = worldSize;
    for (int f = 2; rest > 1; ) {
      if (rest % f == 0) {
        d[r.nextInt(4)] *= f;
        rest /= f;
      } else {
        f++;
      }
    }
    return ParallelLayout.of(d[0], d[1], d[2], d[3], worldSize);
  }

  @Test
  void everyCollectiveMatchesSequentialOnRandomGroups() throws Exception {
    SplittableRandom r = new SplittableRandom(42);
    for (int trial = 0; trial < 24; trial++) {
      int world = 1 + r.nextInt(8);
      ParallelLayout layout = randomLayout(world, r);
      Axis[] axes = AXIS_SETS[r.nextInt(AXIS_SETS.length)];
      int[] lengths = {0, 1, 2 + r.nextInt(9), 1 + r.nextInt(3000)};
      long seed = r.nextLong();
      double[] checksums = new double[world];
      LocalCluster.run(world, Duration.ofSeconds(10), backend -> {
        CollectiveChecks c = new CollectiveChecks(backend, seed, layout, axes);
        checksums[backend.rank()] = c.runAll(lengths);
        backend.world().barrier();
      });
      for (int g = 0; g < world; g++) {
        int[] members = layout.groupRanks(g, axes);
        assertThat(checksums[g]).as("%s axes %s", layout.toString(g), List.of(axes)).isEqualTo(checksums[members[0]]);
      }
    }
  }

  @Test
  void sameMembersTwiceGiveIndependentCommunicators() throws Exception {
    LocalCluster.run(3, Duration.ofSeconds(10), b -> {
      Communicator first = b.world();
      Communicator second = b.world();
      float[] x = {b.rank()};
      float[] y = {10 * b.rank()};
      Handle h = first.allReduceAsync(x, 0, 1, ReduceOp.SUM);
      second.allReduce(y, 0, 1, ReduceOp.SUM);
      h.await();
      assertThat(x[0]).isEqualTo(3f);
      assertThat(y[0]).isEqualTo(30f);
    });
  }

  @Test
  void statsCountBytesPerKind() throws Exception {
    List<CommStats.Entry> entries = new ArrayList<>();
    LocalCluster.run(4, Duration.ofSeconds(10), b -> {
      Communicator c = b.world();
      c.allReduce(new float[1000], 0, 1000, ReduceOp.SUM);
      if (b.rank() == 0) {
        synchronized (entries) {
          entries.add(c.stats().get(CommOp.ALL_REDUCE));
        }
        assertThat(c.stats().totalBytes()).isEqualTo(2L * 3 * 250 * 4);
        c.stats().reset();
        assertThat(c.stats().totalBytes()).isZero();
      }
    });
    assertThat(entries.get(0).count()).isEqualTo(1);
    assertThat(entries.get(0).bytes()).isEqualTo(6000);
  }
}
