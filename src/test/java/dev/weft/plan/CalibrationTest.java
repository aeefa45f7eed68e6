package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The calibration file's round trip, the local-machine cluster built from it, and the auto layout API. */
class CalibrationTest {

  static DeviceSpec fixture() {
    Map<String, Double> g = new TreeMap<>();
    g.put("1", 80.0);
    g.put("2", 150.0);
    Map<String, Object> raw = new LinkedHashMap<>();
    raw.put("fit", "test");
    raw.put("step_micro_B4_ms", 35.5);
    return DeviceSpec.measured("test machine", 4L << 30, 150, 12.5, 30, 1.5, 120, 2)
        .withLocal(2, g, 0.8, 15.0, 100, raw);
  }

  @Test
  void calibrationFileRoundTrips(@TempDir Path dir) throws Exception {
    DeviceSpec d = fixture();
    Path f = dir.resolve("sub/device.json");
    Calibration.save(d, f);
    DeviceSpec back = DeviceSpec.load(f);
    assertThat(back.name()).isEqualTo(d.name());
    assertThat(back.memoryBytes()).isEqualTo(d.memoryBytes());
    assertThat(back.fp32Gflops()).isEqualTo(150.0);
    assertThat(back.intraNodeGBps()).isEqualTo(12.5);
    assertThat(back.intraNodeLatencyUs()).isEqualTo(30.0);
    assertThat(back.interNodeGBps()).isEqualTo(1.5);
    assertThat(back.cores()).isEqualTo(2);
    assertThat(back.gflopsByThreads()).isEqualTo(d.gflopsByThreads());
    assertThat(back.computeEfficiency()).isEqualTo(0.8);
    assertThat(back.hbmGBps()).isEqualTo(15.0);
    assertThat(back.layerOverheadUs()).isEqualTo(100.0);
    assertThat(back.calibration()).containsEntry("fit", "test").containsEntry("step_micro_B4_ms", 35.5);
    assertThat(Calibration.loadOrDefault(f)).isEqualTo(back);
  }

  @Test
  void localMachineSharesCoresAmongRanks() {
    LocalMachine lm = LocalMachine.of(fixture());
    assertThat(lm.threadsPerRank(1)).isEqualTo(2);
    assertThat(lm.threadsPerRank(2)).isEqualTo(1);
    assertThat(lm.threadsPerRank(4)).isEqualTo(1);
    // 1 rank x 2 threads at G(2); 2 ranks x 1 thread at G(1) each; 4 ranks x 1 thread on 2 cores: half of G(1).
    assertThat(lm.cluster(1).peakFlopsFp32()).isCloseTo(150e9, within(1.0));
    assertThat(lm.cluster(2).peakFlopsFp32()).isCloseTo(80e9, within(1.0));
    assertThat(lm.cluster(4).peakFlopsFp32()).isCloseTo(40e9, within(1.0));
    assertThat(lm.cluster(4).layerOverheadSeconds()).isCloseTo(200e-6, within(1e-12));
    assertThat(lm.cluster(4).memoryBytes()).isEqualTo((4L << 30) / 4);
    assertThat(lm.cluster(2).intraNode().bytesPerSecond()).isEqualTo(12.5e9);
  }

  @Test
  void autoLayoutReturnsARuntimeSupportedLayoutWithAnExplanation() {
    for (int devices : new int[] {1, 2, 4}) {
      ModelSpec micro = Families.preset("micro");
      AutoLayout.Choice ch = AutoLayout.choose(micro, 8, 0, 0, devices, fixture());
      assertThat(ch.layout().devices()).isEqualTo(devices);
      assertThat(AutoLayout.runtimeSupports(micro, 8, ch.layout())).isTrue();
      assertThat(ch.layout().recompute()).isEqualTo(Recompute.NONE);
      assertThat(ch.explanation()).contains("Winner: " + ch.layout());
      assertThat(ch.parallelism().worldSize()).isEqualTo(devices);
    }
    AutoLayout.Choice fixed = AutoLayout.choose(Families.preset("micro"), 8, 4, 4, 2, fixture());
    assertThat(fixed.microBatch()).isEqualTo(4);
  }

  @Test
  void runtimeSupportRejectsWhatTheRuntimeCannotRun() {
    ModelSpec m = Families.preset("micro"); // 4 heads, context 128
    Layout selective = new Layout(2, 1, 1, 1, 0, false, 2, Schedule.NONE, 1, Recompute.SELECTIVE, CpAlgorithm.RING);
    Layout recomputeZb = new Layout(1, 1, 2, 1, 0, false, 2, Schedule.ZB_H1, 1, Recompute.FULL, CpAlgorithm.RING);
    Layout a2a = new Layout(1, 4, 1, 2, 0, false, 2, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.ALL_TO_ALL);
    Layout badMb = new Layout(2, 1, 1, 1, 0, false, 3, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
    for (Layout l : new Layout[] {selective, recomputeZb, a2a, badMb}) {
      assertThat(AutoLayout.runtimeSupports(m, 8, l)).as(l.toString()).isFalse();
    }
    Layout ppCp = new Layout(1, 1, 2, 2, 0, false, 2, Schedule.ONE_F_ONE_B, 1, Recompute.NONE, CpAlgorithm.RING);
    assertThat(AutoLayout.runtimeSupports(m, 8, ppCp)).as("pipeline stages that are context parallel").isTrue();
    Layout ppZero3 = new Layout(2, 1, 2, 1, 3, false, 2, Schedule.ONE_F_ONE_B, 1, Recompute.NONE, CpAlgorithm.RING);
    assertThat(AutoLayout.runtimeSupports(m, 8, ppZero3)).as("ZeRO-3 on a pipeline's data-parallel axis").isTrue();
    Layout recompute = new Layout(1, 1, 2, 1, 0, false, 2, Schedule.ONE_F_ONE_B, 1, Recompute.FULL, CpAlgorithm.RING);
    assertThat(AutoLayout.runtimeSupports(m, 8, recompute)).as("full recomputation in a 1F1B pipeline").isTrue();
  }
}
