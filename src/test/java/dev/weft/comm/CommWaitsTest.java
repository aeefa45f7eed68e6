package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The exposed-wait intervals a communicator keeps for a trace: none unless asked; when asked, every blocking
 * op's interval, within the calls' own time, summing to the exposed time the stats count.
 */
class CommWaitsTest {
  @Test
  void waitsAreKeptOnlyWhenAskedAndSumToTheExposedTime() throws Exception {
    long[][] window = new long[2][];
    List<long[]>[] kept = new List[2];
    double[] exposed = new double[2];
    LocalCluster.run(2, Duration.ofSeconds(30), b -> {
      Communicator c = b.world();
      float[] x = new float[1 << 12];
      c.allReduce(x, 0, x.length, ReduceOp.SUM);
      assertThat(c.stats().drainWaits()).isEmpty();
      c.stats().keepWaits();
      double before = c.stats().exposedMillis();
      long t0 = System.nanoTime();
      for (int i = 0; i < 5; i++) c.allReduce(x, 0, x.length, ReduceOp.SUM);
      c.allReduceAsync(x, 0, x.length, ReduceOp.SUM).await();
      long t1 = System.nanoTime();
      window[b.rank()] = new long[] {t0, t1};
      kept[b.rank()] = c.stats().drainWaits();
      exposed[b.rank()] = c.stats().exposedMillis() - before;
    });
    for (int r = 0; r < 2; r++) {
      assertThat(kept[r]).hasSizeBetween(5, 6);
      double sum = 0;
      for (long[] w : kept[r]) {
        assertThat(w[0]).isBetween(window[r][0], window[r][1]);
        assertThat(w[1]).isBetween(w[0], window[r][1]);
        sum += (w[1] - w[0]) / 1e6;
      }
      assertThat(sum).isCloseTo(exposed[r], org.assertj.core.api.Assertions.within(1e-6));
    }
  }
}
