package dev.weft.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.weft.model.ModelSpec;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.parallel.Parallelism;
import dev.weft.plan.RuntimeComparison;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The measured step breakdown of real traced runs: on every rank the parts sum to the rank's measured step
 * time (within 5%; rank 0's is the metrics' step_ms), and each layout's own overhead shows where it should (tp waits on a tp run, the bubble on a
 * pipeline, gradient waits or imbalance on data parallelism).
 */
class StepBreakdownTest {
  static final ModelSpec MODEL = new GPT2Config(2, 32, 2, 32, 256).spec();
  @TempDir static Path dir;
  static Path data;

  @BeforeAll
  static void corpus() throws Exception {
    data = RuntimeComparison.syntheticCorpus();
  }

  /** Trains {@code p} for 5 steps with a trace and returns the breakdown, the metrics and the trace file. */
  static Object[] run(Parallelism p, int batch, int microBatch, String name) {
    TrainConfig cfg = TrainConfig.builder(MODEL).steps(5).batch(batch).microBatch(microBatch).lr(1e-3).warmup(0).seed(1)
        .evalEvery(0).evalBatches(0).threads(1).data(data).parallel(p).build();
    Path trace = dir.resolve(name + ".json");
    Trainer.Result r = new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).withTrace(trace).run();
    StepBreakdown b = StepBreakdown.of(TraceEvents.read(trace), p.dp(), p.tp(), p.pp(), p.cp());
    return new Object[] {b, r.steps(), trace};
  }

  /**
   * Each rank's own measured step time (ms, mean over steps 2-5): the durations of its {@code step N} spans,
   * read straight from the trace's JSON.
   */
  static Map<Integer, Double> measuredStepMs(Path trace) throws IOException {
    Map<Integer, List<Double>> d = new TreeMap<>();
    for (JsonNode e : new ObjectMapper().readTree(trace.toFile()).get("traceEvents")) {
      if (e.path("cat").asText().equals("step") && e.path("args").path("step").asInt() >= 2) {
        d.computeIfAbsent(e.path("tid").asInt(), k -> new ArrayList<>()).add(e.path("dur").asDouble() / 1e3);
      }
    }
    Map<Integer, Double> m = new TreeMap<>();
    d.forEach((k, v) -> m.put(k, v.stream().mapToDouble(Double::doubleValue).average().orElseThrow()));
    return m;
  }

  /**
   * On every rank the parts sum to its measured step time within 5%, and rank 0's step is the metrics'
   * step_ms (the same clock) within 5%.
   */
  @SuppressWarnings("unchecked")
  static StepBreakdown checkSums(Object[] run, int world) throws IOException {
    StepBreakdown b = (StepBreakdown) run[0];
    List<StepMetrics> steps = (List<StepMetrics>) run[1];
    Map<Integer, Double> measured = measuredStepMs((Path) run[2]);
    assertThat(b.ranks()).hasSize(world);
    assertThat(measured).hasSize(world);
    assertThat(b.steps()).containsExactly(2, 3, 4, 5);
    double metricsMs = steps.subList(1, steps.size()).stream().mapToDouble(StepMetrics::stepMs).average().orElseThrow();
    assertThat(measured.get(0)).isCloseTo(metricsMs, within(0.05 * metricsMs));
    for (StepBreakdown.RankParts r : b.ranks()) {
      double ms = measured.get(r.rank());
      assertThat(r.sumMs()).as("rank %d parts %s vs measured %.2f ms", r.rank(), r.partsMs(), ms)
          .isCloseTo(ms, within(0.05 * ms));
      assertThat(r.partsMs().values()).allSatisfy(v -> assertThat(v).isGreaterThanOrEqualTo(0));
      assertThat(r.partsMs().get("compute")).isGreaterThan(0);
    }
    return b;
  }

  @Test
  void dataParallelPartsSumToTheStepAndShowTheGradientReduction() throws IOException {
    StepBreakdown b = checkSums(run(Parallelism.builder().dp(2).build(), 4, 1, "dp"), 2);
    assertThat(b.meanPartsMs().get("dp") + b.meanPartsMs().get("imbalance")).isGreaterThan(0);
    assertThat(b.meanPartsMs().get("tp")).isZero();
    assertThat(b.meanPartsMs().get("bubble")).isZero();
  }

  @Test
  void tensorParallelPartsSumToTheStepAndShowTpWaits() throws IOException {
    StepBreakdown b = checkSums(run(Parallelism.builder().tp(2).build(), 2, 1, "tp"), 2);
    assertThat(b.meanPartsMs().get("tp")).isGreaterThan(0);
    assertThat(b.meanPartsMs().get("bubble")).isZero();
  }

  @Test
  void pipelinePartsSumToTheStepAndShowTheBubble() throws IOException {
    StepBreakdown b = checkSums(run(Parallelism.builder().pp(2).schedule("1f1b").build(), 4, 1, "pp"), 2);
    assertThat(b.meanPartsMs().get("bubble")).isGreaterThan(0);
    assertThat(b.meanPartsMs().get("tp")).isZero();
  }

  @Test
  void threeDimensionalPartsSumToTheStepOnEveryRank() throws IOException {
    StepBreakdown b = checkSums(run(Parallelism.builder().dp(2).tp(2).pp(2).schedule("1f1b").build(), 8, 1, "dtp"), 8);
    assertThat(b.meanPartsMs().get("tp")).isGreaterThan(0);
    assertThat(b.meanPartsMs().get("bubble")).isGreaterThan(0);
    assertThat(b.meanPartsMs().get("dp") + b.meanPartsMs().get("imbalance")).isGreaterThan(0);
  }
}
