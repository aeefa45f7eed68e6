package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.weft.models.gpt2.GPT2Config;
import org.junit.jupiter.api.Test;

class TimeModelTest {
  static final Link LINK = new Link("test", 100e9, 10e-6);

  @Test
  void ringAllReduceIsTwoNMinusOneOverNBytesOverBandwidthPlusLatency() {
    // n=4, 1 GB: 2*3/4 * 1e9 / 1e11 = 0.015 s, + 2*3*10us = 60 us.
    assertThat(Collectives.allReduce(4, 1e9, LINK)).isCloseTo(0.015 + 60e-6, within(1e-12));
    assertThat(Collectives.reduceScatter(4, 1e9, LINK)).isCloseTo(0.0075 + 30e-6, within(1e-12));
    assertThat(Collectives.allGather(4, 1e9, LINK)).isCloseTo(0.0075 + 30e-6, within(1e-12));
    assertThat(Collectives.p2p(1e9, LINK)).isCloseTo(0.01 + 10e-6, within(1e-12));
    assertThat(Collectives.allReduce(1, 1e9, LINK)).isZero();
  }

  @Test
  void bubbleFractions() {
    // GPipe/1F1B: (p-1)/(m+p-1); interleaved: bubble /v; ZB-H1: a third of 1F1B's.
    assertThat(Schedule.ONE_F_ONE_B.bubbleFraction(4, 8, 1)).isCloseTo(3.0 / 11, within(1e-12));
    assertThat(Schedule.GPIPE.bubbleFraction(4, 8, 1)).isCloseTo(3.0 / 11, within(1e-12));
    assertThat(Schedule.INTERLEAVED.bubbleFraction(4, 8, 2)).isCloseTo(1.5 / 9.5, within(1e-12));
    assertThat(Schedule.ZB_H1.bubbleMicroBatches(4, 1)).isCloseTo(1.0, within(1e-12));
    assertThat(Schedule.NONE.bubbleFraction(1, 8, 1)).isZero();
  }

  @Test
  void flopsPerTokenMatchNarayananEquation() {
    GPT2Config c = PlanModels.gpt2("1t");
    double L = 128, h = 25600, s = 2048, V = 51200;
    double narayanan = 72 * L * h * h * (1 + s / (6 * h) + V / (12 * L * h)); // without recomputation
    assertThat(TimeModel.modelFlopsPerToken(c)).isCloseTo(narayanan, within(narayanan * 1e-12));
    double withFull = 96 * L * h * h * (1 + s / (6 * h) + V / (16 * L * h)); // eq. 3, full recomputation
    assertThat(TimeModel.modelFlopsPerToken(c) + TimeModel.recomputeFlopsPerToken(c, Recompute.FULL))
        .isCloseTo(withFull, within(withFull * 1e-12));
  }

  /** A device with a flat matrix rate (no tiles, no roofline), as a calibrated CPU has. */
  static ClusterSpec flat(double peak, double efficiency, double memoryBandwidth) {
    return new ClusterSpec("flat", 8, 80L << 30, 0.9, peak, peak, efficiency, memoryBandwidth,
        new Link("intra", 100e9, 5e-6), new Link("inter", 10e9, 10e-6));
  }

  @Test
  void onAFlatDeviceASingleDeviceStepIsFlopsAtTheMatrixRatePlusMemoryTraffic() {
    GPT2Config c = GPT2Config.preset("small");
    ModelDims m = ModelDims.of(c);
    Job job = new Job(c, 8, Precision.BF16);
    ClusterSpec dev = flat(100e12, 0.5, 1e12);
    TimeModel.Breakdown t = TimeModel.estimate(job, Layout.single(8), dev);
    // Matrix products (forward 1, backward 2) and FlashAttention's causal half (forward 1, backward 2.5).
    double flops = job.tokensPerStep() * (3 * (m.layers() * m.layerMatrixFlops() + m.logitFlops())
        + m.layers() * m.attentionFlops(m.seq()) / 2 * 3.5);
    assertThat(t.compute() - t.elementwise()).isCloseTo(flops / 50e12, within(1e-9 * t.compute()));
    assertThat(t.step()).isCloseTo(t.compute() + t.optimizer(), within(1e-12));
    assertThat(t.bubble() + t.tpComm() + t.dpCommTotal() + t.ppComm() + t.cpComm()).isZero();
  }

  @Test
  void aProductRunsAtTheSustainedRateWhenItsTilesFillWholeWavesAndPaysAWholeWaveForOneTileMore() {
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    double rate = a100.achievableFlops(Precision.BF16);
    // 108 SMs: 12 x 9 tiles of 128 x 256 fill one wave exactly.
    double full = TimeModel.gemmSeconds(a100, Precision.BF16, 12 * 128, 9 * 256, 8192, 1);
    assertThat(full).isCloseTo(2.0 * 12 * 128 * 9 * 256 * 8192 / rate, within(full * 1e-9));
    // One more row of tiles: 117 of 128 x 256 (or 234 of 128 x 128) tiles need a wave more than 108 SMs take.
    double over = TimeModel.gemmSeconds(a100, Precision.BF16, 13 * 128, 9 * 256, 8192, 1);
    assertThat(over / full).isGreaterThan(1.4);
    // Q K^T with a head width of 64: 2 x 64 FLOPs per 2-byte score written: memory-bound (roofline).
    double qk = TimeModel.gemmSeconds(a100, Precision.BF16, 2048, 2048, 64, 32);
    double bytes = 2.0 * 32 * (2048 * 64 * 2 + 2048 * 2048);
    assertThat(qk).isCloseTo(bytes / a100.hbmBytesPerSecond(), within(qk * 1e-9));
    // A flat device has neither.
    ClusterSpec f = flat(100e12, 0.5, 1e12);
    assertThat(TimeModel.gemmSeconds(f, Precision.BF16, 2048, 2048, 64, 32)).isCloseTo(2.0 * 2048 * 2048 * 64 * 32 / 50e12,
        within(1e-15));
  }

  @Test
  void materializedScoresCostMoreThanFlashAttentionAndGrowWithTheSequence() {
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    Layout l = new Layout(1, 8, 1, 1, 0, false, 1, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
    double[] ratio = new double[2];
    int i = 0;
    for (int seq : new int[] {2048, 8192}) {
      ModelDims m = PlanModels.preset("175b").withSeq(seq);
      Job flash = new Job(m, 8, Precision.BF16);
      Job materialized = flash.withSoftware(Software.DEFAULT.withAttention(AttentionKernel.MATERIALIZED));
      ratio[i++] = TimeModel.estimate(materialized, l, a100).step() / TimeModel.estimate(flash, l, a100).step();
    }
    assertThat(ratio[0]).isGreaterThan(1);
    assertThat(ratio[1]).isGreaterThan(ratio[0]);
  }

  @Test
  void dataParallelGradientsOverlapOnlyWhenTheSoftwareOverlapsThem() {
    Job job = new Job(PlanModels.preset("1.7b"), 512, Precision.BF16);
    Layout l = new Layout(32, 1, 1, 1, 0, false, 4, Schedule.NONE, 1, Recompute.FULL, CpAlgorithm.RING);
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    TimeModel.Breakdown overlapped = TimeModel.estimate(job, l, a100);
    TimeModel.Breakdown after = TimeModel.estimate(job.withSoftware(Software.DEFAULT.withOverlapDp(false)), l, a100);
    assertThat(after.dpCommExposed()).isEqualTo(after.dpCommTotal()).isGreaterThan(0);
    assertThat(overlapped.dpCommExposed()).isLessThan(after.dpCommExposed());
    assertThat(after.step() - overlapped.step()).isCloseTo(after.dpCommExposed() - overlapped.dpCommExposed(),
        within(1e-9));
  }

  @Test
  void interNodeGroupsGetTheNicsTheirMembersOwnInANode() {
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    Link nic = a100.interNode();
    assertThat(a100.linkFor(8, 4).bytesPerSecond()).isEqualTo(nic.bytesPerSecond()); // one member per node
    assertThat(a100.linkFor(2, 32).bytesPerSecond()).isCloseTo(4 * nic.bytesPerSecond(), within(1.0));
    assertThat(a100.linkFor(1, 32).bytesPerSecond())
        .isEqualTo(Math.min(a100.intraNode().bytesPerSecond(), 8 * nic.bytesPerSecond()));
  }

  @Test
  void groupsStayInsideANodeWhenTheirRanksFitTpInnermost() {
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    assertThat(a100.linkFor(1, 8)).isEqualTo(a100.intraNode());
    assertThat(a100.linkFor(1, 16).name()).startsWith(a100.interNode().name());
    assertThat(a100.linkFor(2, 4)).isEqualTo(a100.intraNode());
    assertThat(a100.linkFor(8, 2)).isEqualTo(a100.interNode());
  }

  @Test
  void pipelineBubbleShrinksWithInterleavingAndZeroBubble() {
    Job job = new Job(PlanModels.preset("1.7b"), 64, Precision.BF16);
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    double f1 = TimeModel.estimate(job, pipe(Schedule.ONE_F_ONE_B, 1), a100).bubble();
    double il = TimeModel.estimate(job, pipe(Schedule.INTERLEAVED, 2), a100).bubble();
    double zb = TimeModel.estimate(job, pipe(Schedule.ZB_H1, 1), a100).bubble();
    assertThat(il).isLessThan(f1);
    assertThat(zb).isCloseTo(f1 / 3, within(f1 * 0.01));
  }

  /**
   * Four local ranks on two cores (each gets half its threads' time while all are busy): a dp2 x pp2 stage
   * idle in its bubble leaves its core to the busy ones, so the step is the longer of the critical path at
   * full speed and all stages' work at the shared rate, shorter than the uncredited (m + bubble) micro-batches.
   */
  @Test
  void pipelineStagesSharingCoresAreCreditedTheTimeTheyIdle() {
    ClusterSpec shared = new LocalMachine(CalibrationTest.fixture(), 2).cluster(4);
    assertThat(shared.deviceShare()).isEqualTo(0.5);
    Job job = new Job(dev.weft.models.gpt2.GPT2Config.preset("micro"), 8, Precision.FP32);
    Layout l = new Layout(2, 1, 2, 1, 0, false, 2, Schedule.ONE_F_ONE_B, 1, Recompute.NONE, CpAlgorithm.RING);
    TimeModel.Breakdown credited = TimeModel.estimate(job, l, shared);
    TimeModel.Breakdown uncredited = TimeModel.estimate(job, l, shared.withDeviceShare(1));
    int m = l.microBatches(8);
    double mb = credited.microBatchSeconds();
    assertThat(uncredited.bubble()).isCloseTo(Schedule.ONE_F_ONE_B.bubbleMicroBatches(2, 1) * mb, within(mb * 1e-9));
    assertThat(credited.bubble()).isGreaterThanOrEqualTo(0).isLessThan(uncredited.bubble());
    assertThat(credited.step()).isLessThan(uncredited.step());
    // Never faster than the whole pipeline's work at the shared rate.
    assertThat(credited.step()).isGreaterThanOrEqualTo(m * mb);
    // Devices of their own: nothing changes.
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    assertThat(TimeModel.estimate(job, l, a100).step()).isEqualTo(TimeModel.estimate(job, l, a100.withDeviceShare(1)).step());
  }

  private static Layout pipe(Schedule s, int v) {
    return new Layout(1, 1, 4, 1, 0, false, 1, s, v, Recompute.NONE, CpAlgorithm.RING);
  }
  /**
   * The memory-bound kernels' bytes per token, kernel by kernel: fused GPT-2 as before (norms 2h, residuals 3h each,
   * dropout h, GELU 2f; backward twice), Llama adds the rotary pass over q and k; eager PyTorch moves RMSNorm's six
   * fp32 kernels (36 + 54 bytes per element in bf16), the fp32 rotary (20 each way) and SiLU and product apart
   * (10 + 18 per MLP element), and leaves LayerNorm and GELU alone (one kernel each in PyTorch too).
   */
  @Test
  void memoryBoundKernelsMoveTheirBytesKernelByKernelAndEagerPyTorchMovesMore() {
    Layout l = new Layout(1, 1, 1, 1, 0, false, 1, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
    ModelDims gpt = PlanModels.preset("1.7b");
    double h = gpt.hidden(), f = gpt.ffn();
    double[] fused = TimeModel.elementwiseBytesPerToken(gpt, l, Software.Elementwise.FUSED, 2);
    assertThat(fused[0]).isCloseTo(2 * (11 * h + 2 * f), within(1e-9));
    assertThat(fused[1]).isCloseTo(2 * fused[0], within(1e-9));
    assertThat(TimeModel.elementwiseBytesPerToken(gpt, l, Software.Elementwise.EAGER, 2)).containsExactly(fused);

    ModelDims llama = PlanModels.preset("llama3-8b");
    double H = llama.hidden(), F = llama.ffn(), qk = H + llama.kvDim();
    double[] lf = TimeModel.elementwiseBytesPerToken(llama, l, Software.Elementwise.FUSED, 2);
    assertThat(lf[0]).isCloseTo(2 * (10 * H + 3 * F + 2 * qk), within(1e-9));
    assertThat(lf[1]).isCloseTo(2 * (20 * H + 6 * F + 2 * qk), within(1e-9));
    double[] le = TimeModel.elementwiseBytesPerToken(llama, l, Software.Elementwise.EAGER, 2);
    assertThat(le[0]).isCloseTo(2 * H * 36 + 6 * H * 2 + 10 * F + 20 * qk, within(1e-9));
    assertThat(le[1]).isCloseTo(2 * H * 54 + 12 * H * 2 + 18 * F + 20 * qk, within(1e-9));
    assertThat(TimeModel.lossBytesPerLogit(Software.Elementwise.EAGER, 2)).isEqualTo(36);
    assertThat(TimeModel.lossBytesPerLogit(Software.Elementwise.FUSED, 2)).isEqualTo(12);

    // Eager slows a Llama step on an A100 by its extra bytes over the memory bandwidth, and a GPT-2 step not at all.
    ClusterSpec a100 = ClusterSpec.a100_80gb();
    Layout dp = new Layout(8, 1, 1, 1, 2, false, 1, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
    Software eager = Software.DEFAULT.withElementwise(Software.Elementwise.EAGER);
    double fusedStep = TimeModel.estimate(new Job(llama, 64, Precision.BF16), dp, a100).step();
    double eagerStep = TimeModel.estimate(new Job(llama, 64, Precision.BF16, eager), dp, a100).step();
    double tokens = 8.0 * 8192 * llama.layers(); // per device per step, times layers
    double extra = tokens * ((le[0] + le[1]) - (lf[0] + lf[1])) / a100.hbmBytesPerSecond()
        + 8.0 * 8192 * llama.vocab() * 24 / a100.hbmBytesPerSecond();
    assertThat(eagerStep - fusedStep).isCloseTo(extra, within(1e-6 * eagerStep));
    // GPT-2's LayerNorm and GELU are single kernels in eager PyTorch too: only its fp32 loss moves more.
    Job gptJob = new Job(gpt, 64, Precision.BF16);
    assertThat(TimeModel.estimate(gptJob.withSoftware(eager), dp, a100).step()
        - TimeModel.estimate(gptJob, dp, a100).step())
        .isCloseTo(8.0 * gpt.seq() * gpt.vocab() * 24 / a100.hbmBytesPerSecond(), within(1e-9));
  }
}
