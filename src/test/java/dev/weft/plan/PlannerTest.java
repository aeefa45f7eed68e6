package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlannerTest {
  static final ClusterSpec A100 = ClusterSpec.a100_80gb();

  @Test
  void everyCandidateUsesAllDevicesAndInfeasibleOnesSayWhy() {
    Job job = new Job(PlanModels.preset("gpt2-xl"), 64, Precision.BF16);
    Plan plan = new Planner(job, A100.withMemoryBytes(8L << 30), 16, Constraints.NONE, 100000, true).plan();
    List<Candidate> all = new ArrayList<>(plan.ranked());
    all.addAll(plan.infeasible());
    assertThat(all).isNotEmpty();
    for (Candidate c : all) {
      assertThat(c.layout().devices()).isEqualTo(16);
      assertThat(job.globalBatch() % (c.layout().dp() * c.layout().microBatch())).isZero();
      assertThat(job.model().heads() % c.layout().tp()).isZero();
      if (!c.feasible()) assertThat(c.reason()).contains("needs").contains("usable");
      else assertThat(c.memory().total()).isLessThanOrEqualTo(plan.cluster().usableMemoryBytes());
    }
    assertThat(plan.infeasible()).isNotEmpty();
    for (int i = 1; i < plan.ranked().size(); i++) {
      assertThat(plan.ranked().get(i).tokensPerSecond()).isLessThanOrEqualTo(plan.ranked().get(i - 1).tokensPerSecond() * 1.002);
    }
  }

  @Test
  void fixingTpRestrictsResults() {
    Job job = new Job(PlanModels.preset("1.7b"), 512, Precision.BF16);
    Plan plan = Planner.plan(job, A100, 32, Constraints.NONE.withTp(4).withRecompute(Recompute.FULL));
    assertThat(plan.ranked()).isNotEmpty().allSatisfy(c -> {
      assertThat(c.layout().tp()).isEqualTo(4);
      assertThat(c.layout().recompute()).isEqualTo(Recompute.FULL);
    });
  }

  @Test
  void aTinyDeviceFitsNothingAndTheMessageSaysWhatWouldHelp() {
    Job job = new Job(PlanModels.preset("1.7b"), 8, Precision.FP32);
    Plan plan = Planner.plan(job, A100.withMemoryBytes(1L << 30), 2);
    assertThatThrownBy(plan::best).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("smallest found").hasMessageContaining("more devices");
  }

  @Test
  void impossibleFixedDegreesAreNamed() {
    Job job = new Job(Families.preset("small"), 8, Precision.FP32);
    Plan plan = Planner.plan(job, A100, 4, Constraints.NONE.withTp(3));
    assertThatThrownBy(plan::best).isInstanceOf(WeftInputException.class).hasMessageContaining("--tp 3");
  }

  @Test
  void theWinnerExplanationNamesTheAlternatives() {
    Job job = new Job(PlanModels.preset("1.7b"), 512, Precision.BF16);
    String text = Explainer.explain(Planner.plan(job, A100, 32));
    assertThat(text).contains("Winner:").contains("pure data parallelism").contains("pure tensor parallelism")
        .contains("pure pipeline parallelism").contains("does not divide the 24 heads");
  }

  @Test
  void a1_7BModelOn32GpusPlansInUnder10SecondsOfCpu() {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    long t0 = mx.getCurrentThreadCpuTime();
    Job job = new Job(PlanModels.preset("1.7b"), 512, Precision.BF16);
    Plan plan = Planner.plan(job, A100, 32);
    String text = Explainer.explain(plan);
    double s = (mx.getCurrentThreadCpuTime() - t0) / 1e9;
    System.out.println(dev.weft.cli.PlanCommand.table(plan.ranked().subList(0, 5)) + text);
    assertThat(s).isLessThan(10);
    assertThat(plan.best().feasible()).isTrue();
  }

  @Test
  void a1TModelOn3072GpusPlansInUnder10SecondsOfCpu() {
    // CPU time of this thread, not wall time: the machine is shared, and a busy neighbour is not the planner's cost.
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    long t0 = mx.getCurrentThreadCpuTime();
    Job job = new Job(PlanModels.preset("1t"), 3072, Precision.BF16);
    Plan plan = Planner.plan(job, A100, 3072);
    String text = Explainer.explain(plan);
    double s = (mx.getCurrentThreadCpuTime() - t0) / 1e9;
    System.out.println(dev.weft.cli.PlanCommand.table(plan.ranked().subList(0, 5)) + text);
    assertThat(s).isLessThan(10);
    Layout w = plan.best().layout();
    assertThat(w.tp() * w.pp()).isGreaterThan(1); // a 1T model cannot be replicated
  }

  @Test
  void deviceFilesRoundTripIntoAClusterSpec(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    DeviceSpec d = DeviceSpec.measured("this-machine", 4L << 30, 120, 8, 20, 1, 100, 2);
    java.nio.file.Path f = dir.resolve("dev.json");
    d.write(f);
    ClusterSpec c = DeviceSpec.load(f).toCluster(0);
    assertThat(c.devicesPerNode()).isEqualTo(2);
    assertThat(c.peakFlopsFp32()).isEqualTo(120e9);
    assertThat(c.intraNode().bytesPerSecond()).isEqualTo(8e9);
    assertThat(c.interNode().latencySeconds()).isCloseTo(100e-6, org.assertj.core.api.Assertions.within(1e-15));
    Plan plan = Planner.plan(new Job(Families.preset("micro"), 8, Precision.FP32), c, 2);
    assertThat(plan.best().layout().devices()).isEqualTo(2);
  }
}
