package dev.weft.parallel.pp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.comm.Communicator;
import dev.weft.comm.LocalCluster;
import dev.weft.kernels.Compute;
import dev.weft.kernels.ScalarGemm;
import dev.weft.tensor.DeviceMemory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every schedule run by {@link PipelineExecutor} on p = 1, 2, 4 local ranks gives the serial chain's loss and
 * weight gradients within 1e-5 relative (the pipeline only changes the order in which micro-batch gradients are
 * summed, so in practice they are bit-equal), and leaves each rank's DeviceMemory where it started.
 */
class PipelineExecutorTest {
  static final int N = 3;
  static final int D = 8;

  static Stream<Arguments> runs() {
    List<Arguments> out = new ArrayList<>();
    for (String name : Schedules.NAMES) {
      for (int p : new int[] {1, 2, 4}) {
        for (int m : new int[] {1, 4, 8}) {
          int v = name.equals("interleaved") ? 2 : 1;
          if (name.equals("interleaved") && m % p != 0) continue; // a clear error instead, tested below
          out.add(Arguments.of(name, p, m, v));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} p={1} m={2} v={3}")
  @MethodSource("runs")
  void equalsTheSerialChain(String name, int p, int m, int v) throws Exception {
    runAndCompare(Schedules.generate(name, p, m, v), PipelineExecutor.DEFAULT_PREFETCH);
  }

  @Test
  void withoutPrefetchAndWithDeepPrefetch() throws Exception {
    runAndCompare(Schedules.generate("1f1b", 4, 8, 1), 0);
    runAndCompare(Schedules.generate("interleaved", 2, 4, 3), 3);
  }

  private static void runAndCompare(Schedule schedule, int prefetch) throws Exception {
    int p = schedule.p();
    int m = schedule.m();
    ToyChain chain = new ToyChain(schedule.stages(), m, N, D, 17 + schedule.stages());
    ToyChain.Result serial;
    try (Compute cx = new Compute(1, new ScalarGemm())) {
      serial = chain.serial(cx);
    }
    ToyChain.Result piped = new ToyChain.Result(schedule.stages(), D);
    double[] loss = new double[1];
    AtomicLongArray leftover = new AtomicLongArray(p);
    AtomicLongArray peak = new AtomicLongArray(p);
    LocalCluster.run(p, Duration.ofSeconds(10), backend -> {
      DeviceMemory mem = DeviceMemory.unlimited("rank " + backend.rank());
      long before = mem.inUse();
      try (Compute cx = new Compute(1, new ScalarGemm())) {
        Communicator pp = backend.world();
        ToyChain.Stages model = chain.new Stages(cx, mem, piped);
        Timeline tl = new PipelineExecutor(pp, mem, model, prefetch).run(schedule);
        assertThat(tl.spans().size()).isEqualTo(schedule.actions(pp.rank()).size());
        assertThat(model.stashEmpty()).isTrue();
        if (pp.rank() == schedule.rankOf(schedule.stages() - 1)) loss[0] = model.loss;
      }
      leftover.set(backend.rank(), mem.inUse() - before);
      peak.set(backend.rank(), mem.peak());
    });
    assertThat(Math.abs(loss[0] - serial.loss) / serial.loss).as("loss").isLessThan(1e-5);
    for (int s = 0; s < schedule.stages(); s++) {
      assertThat(relErr(piped.dw[s], serial.dw[s])).as("dW of stage " + s).isLessThan(1e-5);
      assertThat(relErr(piped.db[s], serial.db[s])).as("db of stage " + s).isLessThan(1e-5);
    }
    for (int r = 0; r < p; r++) {
      assertThat(leftover.get(r)).as("bytes left allocated on rank " + r).isZero();
      assertThat(peak.get(r)).as("peak on rank " + r).isPositive();
    }
  }

  static double relErr(float[] a, float[] ref) {
    double d = 0;
    double n = 0;
    for (int i = 0; i < a.length; i++) {
      d += Math.pow(a[i] - ref[i], 2);
      n += Math.pow(ref[i], 2);
    }
    return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
  }

  @Test
  void oneFOneBSupportsFewerMicroBatchesThanStages() throws Exception {
    runAndCompare(Schedules.generate("1f1b", 4, 2, 1), 1);
    runAndCompare(Schedules.generate("zb", 4, 3, 1), 1);
  }

  @Test
  void badLayoutsFailClearly() {
    assertThatThrownBy(() -> Schedules.generate("interleaved", 4, 2, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("multiple of the pipeline degree").hasMessageContaining("got m=2 p=4");
    assertThatThrownBy(() -> Schedules.generate("gpipe", 2, 4, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("v=2");
    assertThatThrownBy(() -> LocalCluster.run(2, Duration.ofSeconds(5), backend -> {
      DeviceMemory mem = DeviceMemory.unlimited("r");
      try (Compute cx = new Compute(1, new ScalarGemm())) {
        ToyChain chain = new ToyChain(4, 4, N, D, 1);
        new PipelineExecutor(backend.world(), mem, chain.new Stages(cx, mem, new ToyChain.Result(4, D)))
            .run(Schedules.generate("1f1b", 4, 4, 1));
      }
    })).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is for 4 PP ranks but the PP group has 2");
  }

  @Test
  void tagsNeverCollide() {
    Set<Integer> seen = new HashSet<>();
    for (int act = 0; act < 2; act++) {
      for (int b = 0; b < 64; b++) {
        for (int mb = 0; mb < 64; mb++) assertThat(seen.add(PipelineExecutor.tag(act == 1, b, mb))).isTrue();
      }
    }
    assertThat(PipelineExecutor.tag(true, 1023, (1 << 20) - 1)).isPositive();
  }
}
