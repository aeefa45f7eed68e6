package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.weft.decoder.Activations;
import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import org.junit.jupiter.api.Test;

class MemoryModelTest {
  static final long P = 1_000_000L;

  @Test
  void zeroStagesInFp32Cost16P_8Pplus8PoverN_4Pplus12PoverN_16PoverN() {
    int n = 8;
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.FP32, 0, n))).isEqualTo(16 * P);
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.FP32, 1, n))).isEqualTo(8 * P + 8 * P / n);
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.FP32, 2, n))).isEqualTo(4 * P + 12 * P / n);
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.FP32, 3, n))).isEqualTo(16 * P / n);
  }

  @Test
  void bf16MixedPrecisionFollowsZeroPaperK12() {
    int n = 64; // ZeRO paper Figure 1: (2 + 2 + K) Psi, K = 12; stage 1: 4 Psi + 12 Psi / n, ...
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.BF16, 0, n))).isEqualTo(16 * P);
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.BF16, 1, n))).isEqualTo(4 * P + 12 * P / n);
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.BF16, 2, n))).isEqualTo(2 * P + 14 * P / n);
    assertThat(sum(MemoryModel.modelStateBytes(P, Precision.BF16, 3, n))).isEqualTo(16 * P / n);
  }

  @Test
  void stageParamsSumToTheModelOnOneDevice() {
    for (ModelSpec c : new ModelSpec[] {Families.preset("nano"), Families.preset("small"), PlanModels.preset("1t").toSpec()}) {
      assertThat(MemoryModel.stageParams(c, 1, 1, 1, 0)).isEqualTo(c.parameterCount());
    }
  }

  @Test
  void korthikantiActivationFormulasOnASmallExample() {
    // s=4, b=2, h=8, a=2, t=2: sbh = 64, 5as/h = 5*2*4/8 = 5.
    long s = 4, b = 2, h = 8, a = 2;
    assertThat(MemoryModel.korthikantiLayerBytes(s, b, h, a, 1, false, 1, Recompute.NONE)).isEqualTo(64 * (34 + 5));
    assertThat(MemoryModel.korthikantiLayerBytes(s, b, h, a, 2, false, 1, Recompute.NONE))
        .isCloseTo(64 * (10 + 24 / 2.0 + 5 / 2.0), within(1e-9));
    assertThat(MemoryModel.korthikantiLayerBytes(s, b, h, a, 2, true, 1, Recompute.NONE))
        .isCloseTo(64 / 2.0 * (34 + 5), within(1e-9));
    assertThat(MemoryModel.korthikantiLayerBytes(s, b, h, a, 2, true, 1, Recompute.SELECTIVE))
        .isCloseTo(34 * 64 / 2.0, within(1e-9));
    assertThat(MemoryModel.korthikantiLayerBytes(s, b, h, a, 2, false, 1, Recompute.FULL)).isEqualTo(2 * 64);
    assertThat(MemoryModel.korthikantiLayerBytes(s, b, h, a, 1, false, 2, Recompute.NONE)).isEqualTo(64 * 39 / 2.0);
  }

  @Test
  void runtimeFp32ModelEqualsActivationsBytesForOnOneDevice() {
    ModelSpec[] shapes = {Families.preset("nano"), Families.preset("micro"), Families.preset("mini"),
        Families.preset("small"), new GPT2Config(3, 96, 6, 48, 100).spec()};
    int[][] bt = {{1, 16}, {4, 64}, {2, 48}, {3, 32}};
    for (ModelSpec c : shapes) {
      for (int[] x : bt) {
        int T = Math.min(x[1], c.context());
        assertThat(MemoryModel.runtimeActivationBytes(c, x[0], T, c.vocab()))
            .as(c + " B=" + x[0] + " T=" + T).isEqualTo(ActivationShapes.totalBytes(c, x[0], T, 1, false, false));
      }
    }
  }

  @Test
  void runtimeModelIsTheDefaultForFp32AndMatchesAtTpPpCpOne() {
    ModelSpec c = Families.preset("micro");
    Job job = new Job(c, 4, Precision.FP32);
    MemoryModel.Breakdown m = MemoryModel.estimate(job, Layout.single(4));
    assertThat(m.activations() + m.embeddingLogits() + m.backwardScratch())
        .isEqualTo(ActivationShapes.totalBytes(c, 4, c.context(), 1, false, false));
    assertThat(m.modelStates()).isEqualTo(16 * c.parameterCount());
  }

  @Test
  void pipelineStashPerSchedule() {
    int p = 4, m = 8, v = 2;
    assertThat(MemoryModel.inFlightMicroBatches(Schedule.GPIPE, p, m, 1, 0)).isEqualTo(8);
    assertThat(MemoryModel.inFlightMicroBatches(Schedule.ONE_F_ONE_B, p, m, 1, 0)).isEqualTo(4);
    assertThat(MemoryModel.inFlightMicroBatches(Schedule.ONE_F_ONE_B, p, m, 1, 3)).isEqualTo(1);
    assertThat(MemoryModel.inFlightMicroBatches(Schedule.ZB_H1, p, m, 1, 0)).isEqualTo(4);
    assertThat(MemoryModel.inFlightMicroBatches(Schedule.INTERLEAVED, p, m, v, 0)).isEqualTo(4 + 3 / 2.0);
    assertThat(MemoryModel.inFlightMicroBatches(Schedule.ONE_F_ONE_B, p, 2, 1, 0)).isEqualTo(2);
  }

  @Test
  void tensorParallelismAndZeroShrinkModelStates() {
    ModelSpec c = PlanModels.preset("1.7b").toSpec();
    Job job = new Job(c, 64, Precision.BF16);
    long one = MemoryModel.estimate(job, Layout.single(1)).modelStates();
    Layout tp8 = new Layout(1, 8, 1, 1, 0, true, 1, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
    assertThat((double) MemoryModel.estimate(job, tp8).modelStates()).isLessThan(one / 7.0);
    Layout dp8z3 = new Layout(8, 1, 1, 1, 3, false, 1, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
    assertThat(MemoryModel.estimate(job, dp8z3).modelStates()).isEqualTo(MemoryModel.ceilDiv(16 * c.parameterCount(), 8));
  }

  private static long sum(long[] x) {
    return x[0] + x[1] + x[2];
  }
}
