package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.weft.train.TrainConfig;
import org.junit.jupiter.api.Test;

/** The planner's prediction for a run's own layout: the same layout the planner would run, and its figures. */
class RunPredictionTest {
  @Test
  void layoutOfInvertsTheRuntimesParallelismForEveryBenchLayout() {
    for (RuntimeComparison.Case c : RuntimeComparison.cases()) {
      Layout l = c.layout();
      assertThat(RunPrediction.layoutOf(RuntimeComparison.parallelism(l), l.microBatch())).as(c.describe()).isEqualTo(l);
    }
  }

  @Test
  void predictsTheBenchFiguresForEachDeviceOfItsStage() {
    RuntimeComparison.Case c = RuntimeComparison.cases().stream()
        .filter(x -> x.layout().dp() == 2 && x.layout().pp() == 2).findFirst().orElseThrow();
    TrainConfig cfg = c.trainConfig(2, null);
    DeviceSpec spec = Calibration.defaultLocal();
    RunPrediction p = RunPrediction.of(cfg, spec, false);
    assertThat(p.memoryPerDevice()).hasSize(4);
    // Device 0 is stage 0, as weft bench plan predicts it; the mesh puts pp outermost: ranks 2, 3 are stage 1.
    assertThat(p.memoryPerDevice().get(0).total()).isEqualTo(RuntimeComparison.predictedMemory(c).total());
    assertThat(p.memoryPerDevice().get(1)).isEqualTo(p.memoryPerDevice().get(0));
    assertThat(p.memoryPerDevice().get(2).stage()).isEqualTo(1);
    assertThat(p.stepSeconds()).isEqualTo(RuntimeComparison.predictedTime(c, LocalMachine.of(spec)).step());
    double parts = p.partsMs().values().stream().mapToDouble(Double::doubleValue).sum();
    assertThat(parts).isCloseTo(p.stepSeconds() * 1e3, within(1e-6 * parts));
    long cats = p.memoryByCategory(3).values().stream().mapToLong(Long::longValue).sum();
    assertThat(cats).isEqualTo(p.memoryPerDevice().get(3).total());
  }
}
