package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class LocalFaultTest {
  @Test
  void aRankThatThrowsStopsTheOthersFastAndIsRethrown() {
    List<Throwable> seen = new CopyOnWriteArrayList<>();
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> LocalCluster.run(4, Duration.ofSeconds(20), b -> {
      Communicator c = b.world();
      c.allReduce(new float[10], 0, 10, ReduceOp.SUM);
      if (b.rank() == 2) throw new IllegalStateException("boom in rank 2");
      try {
        c.allReduce(new float[10], 0, 10, ReduceOp.SUM); // rank 2 never arrives
      } catch (CommException e) {
        seen.add(e);
        throw e;
      }
    })).isInstanceOf(IllegalStateException.class).hasMessage("boom in rank 2");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    assertThat(seen).hasSize(3);
    for (Throwable e : seen) {
      assertThat(e.getMessage()).contains("allReduce").contains("group [0, 1, 2, 3]").contains("global rank 2 failed")
          .contains("boom in rank 2");
    }
  }

  @Test
  void aRankThatNeverArrivesTimesOutNamingIt() {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> LocalCluster.run(3, Duration.ofMillis(300), b -> {
      Communicator c = b.world();
      if (b.rank() == 1) {
        float[] x = new float[1];
        c.recv(x, 0, 1, 0, 5); // waits for a message that never comes
      } else {
        c.barrier();
      }
    })).isInstanceOf(CommException.class).hasMessageContaining("timed out").hasMessageContaining("global rank");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void collectivesOutOfStepAreReported() {
    assertThatThrownBy(() -> LocalCluster.run(2, Duration.ofSeconds(5), b -> {
      Communicator c = b.world();
      if (b.rank() == 0) c.allReduce(new float[4], 0, 4, ReduceOp.SUM);
      else c.broadcast(new float[4], 0, 4, 0);
    })).isInstanceOf(CommException.class).hasMessageContaining("out of step");
  }

  @Test
  void asyncFailureSurfacesInAwait() {
    assertThatThrownBy(() -> LocalCluster.run(2, Duration.ofSeconds(5), b -> {
      Communicator c = b.world();
      if (b.rank() == 1) throw new RuntimeException("rank 1 gave up");
      Handle h = c.allReduceAsync(new float[8], 0, 8, ReduceOp.SUM);
      h.await();
    })).hasMessage("rank 1 gave up");
  }

  @Test
  void badArgumentsAreRefusedBeforeAnyCommunication() throws Exception {
    LocalCluster.run(2, Duration.ofSeconds(5), b -> {
      Communicator c = b.world();
      assertThatThrownBy(() -> c.allReduce(new float[4], 2, 4, ReduceOp.SUM)).isInstanceOf(IndexOutOfBoundsException.class);
      assertThatThrownBy(() -> c.send(new float[4], 0, 4, c.rank(), 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> c.reduceScatter(new float[4], 0, new float[4], 0, new int[] {4}, ReduceOp.SUM))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> b.group(0, 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> b.group(1 - b.rank())).hasMessageContaining("not a member");
    });
  }
}
