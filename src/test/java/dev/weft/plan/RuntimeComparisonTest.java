package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.weft.decoder.Activations;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.decoder.ActivationShapes;
import dev.weft.decoder.Workspace;
import dev.weft.kernels.Heads;
import dev.weft.parallel.cp.RingAttention;
import dev.weft.parallel.cp.UlyssesAttention;
import dev.weft.parallel.pp.StagePlan;
import dev.weft.tensor.DeviceMemory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The planner's per-device memory for the layouts of {@code weft bench plan}, against the runtime's own
 * allocation computed without training: parameters from {@link ParameterLayout}, model state by the ZeRO
 * formulas (16P, 8P + 8P/N, 4P + 12P/N, 16P/N with N = dp cp), activations from
 * {@link ActivationShapes} (or, on a pipeline stage, the bytes of the {@link Activations} the stage
 * allocates per stashed micro-batch: 1F1B keeps min(p, m) on the first stage, GPipe m, interleaved
 * Megatron's warm-up v p + p - 1 chunk-micro-batches, plus the one {@link Workspace} they share), and
 * ZeRO's documented transient buffers and context parallelism's attention buffers; with and without full
 * recomputation.
 */
class RuntimeComparisonTest {

  @Test
  void plannerMemoryEqualsTheRuntimeAllocationFormulaWithin10Percent() {
    for (RuntimeComparison.Case c : RuntimeComparison.cases()) {
      long predicted = RuntimeComparison.predictedMemory(c).total();
      long runtime = runtimeFormula(c);
      double err = Math.abs(predicted - runtime) / (double) runtime;
      assertThat(err).as("%s: planner %d vs runtime formula %d bytes", c.describe(), predicted, runtime)
          .isLessThanOrEqualTo(0.10);
    }
  }

  @Test
  void everyComparisonLayoutIsValidForTheRuntime() {
    List<RuntimeComparison.Case> cases = RuntimeComparison.cases();
    assertThat(cases).hasSizeGreaterThanOrEqualTo(10);
    for (RuntimeComparison.Case c : cases) {
      assertThatCode(() -> c.trainConfig(3, null).validate()).as(c.describe()).doesNotThrowAnyException();
      assertThat(AutoLayout.runtimeSupports(c.model(), c.batch(), c.layout())).as(c.describe()).isTrue();
    }
    // Coverage: every axis, every ZeRO stage, three schedules, both CP methods, both presets, hybrids.
    assertThat(cases).anyMatch(c -> c.layout().dp() > 1).anyMatch(c -> c.layout().tp() > 1 && c.layout().sp())
        .anyMatch(c -> c.layout().pp() > 1).anyMatch(c -> c.layout().cp() > 1)
        .anyMatch(c -> c.layout().cpAlgorithm() == CpAlgorithm.ALL_TO_ALL && c.layout().cp() > 1)
        .anyMatch(c -> c.preset().equals("mini")).anyMatch(c -> c.layout().devices() == 4)
        .anyMatch(c -> c.layout().recompute() == Recompute.FULL && c.layout().pp() == 1)
        .anyMatch(c -> c.layout().recompute() == Recompute.FULL && c.layout().pp() > 1);
    for (int z = 0; z <= 3; z++) {
      int zero = z;
      assertThat(cases).anyMatch(c -> c.layout().zero() == zero);
    }
    for (Schedule s : new Schedule[] {Schedule.ONE_F_ONE_B, Schedule.GPIPE, Schedule.INTERLEAVED}) {
      assertThat(cases).anyMatch(c -> c.layout().schedule() == s);
    }
  }

  /** The runtime's bytes on device 0, from its own classes and formulas (class comment). */
  static long runtimeFormula(RuntimeComparison.Case c) {
    ModelSpec mc = c.model();
    Layout l = c.layout();
    int t = l.tp(), p = l.pp(), n = l.dp() * l.cp(), T = mc.context() / l.cp();
    int v = l.schedule() == Schedule.INTERLEAVED ? l.virtualStages() : 1;
    int m = l.microBatches(c.batch());
    ParameterLayout layout;
    long activations;
    boolean recompute = l.recompute() == Recompute.FULL;
    if (p == 1) {
      layout = new ParameterLayout(mc, t, 0);
      activations = Float.BYTES * new ActivationShapes(mc, l.microBatch(), T, t, l.sp()).totalFloats(mc.layers(),
          recompute);
    } else {
      StagePlan plan = StagePlan.balanced(mc.layers(), p, v);
      boolean[] mine = new boolean[mc.layers()];
      for (int s : plan.stagesOf(0)) {
        for (int i = plan.firstLayer(s); i < plan.firstLayer(s) + plan.layers(s); i++) mine[i] = true;
      }
      layout = new ParameterLayout(mc, t, 0, mine, true, false);
      // One stashed chunk-micro-batch of stage 0's first chunk, as the stage allocates it, on the workspace
      // the stage shares between its micro-batches (counted once).
      boolean[] chunk = new boolean[mc.layers()];
      for (int i = plan.firstLayer(0); i < plan.firstLayer(0) + plan.layers(0); i++) chunk[i] = true;
      long perStash;
      long workspace;
      DeviceMemory mem = DeviceMemory.unlimited("test");
      ActivationShapes shapes = new ActivationShapes(mc, l.microBatch(), T, t, l.sp());
      try (Workspace ws = new Workspace(mem, shapes, recompute);
           Activations a = Activations.forStage(mem, shapes, chunk, false, ws)) {
        perStash = a.bytes();
        workspace = ws.bytes();
      }
      int stashes = switch (l.schedule()) {
        case GPIPE -> m;
        case INTERLEAVED -> Math.min(m * v, v * p + p - 1);
        default -> Math.min(p, m);
      };
      long messages = 2L * l.microBatch() * T * mc.dModel() * Float.BYTES; // one send, one posted receive
      activations = stashes * perStash + workspace + messages;
    }
    long P = layout.total();
    long S = 0, embedding = layout.regionSize(0), maxLayer = 0;
    for (int r = 0; r < layout.regionCount(); r++) {
      S += (layout.regionSize(r) + n - 1) / n;
      if (r > 0 && r < layout.regionCount() - 1) maxLayer = Math.max(maxLayer, layout.regionSize(r));
    }
    int zero = n > 1 ? l.zero() : 0;
    long state = switch (zero) {
      case 0 -> 16 * P;
      case 1 -> 8 * P + 8 * S;
      case 2 -> 4 * P + 12 * S;
      default -> 16 * S;
    };
    // ZeroWeights: ZeRO-1 reduce-scatters every region's piece at the end of backward (S floats); ZeRO-2
    // keeps up to three regions' full gradients (the embeddings', the one computing, the one waiting) and
    // their pieces; ZeRO-3 also up to three gathered regions.
    long transientFloats = switch (zero) {
      case 0 -> 0;
      case 1 -> S;
      case 2 -> Math.max(embedding + 2 * maxLayer + 2 * ((maxLayer + n - 1) / n), S);
      default -> Math.max(2 * (embedding + 2 * maxLayer) + 3 * ((maxLayer + n - 1) / n), S);
    };
    // Context parallelism: the attention's buffers, taken within a layer's backward (RingAttention,
    // UlyssesAttention); alongside ZeRO-2/3's (also held in backward), before ZeRO-1's (after it).
    long cpFloats = l.cp() == 1 ? 0 : l.cpAlgorithm() == CpAlgorithm.RING
        ? RingAttention.transientFloats(l.microBatch(), T, new Heads(mc.heads() / t, mc.kvHeads() / t, mc.headDim()))
        : UlyssesAttention.transientFloats(l.microBatch(), T, new Heads(mc.heads() / t, mc.kvHeads() / t,
            mc.headDim()));
    long comm = p == 1 && zero < 2 ? Math.max(transientFloats, cpFloats) : transientFloats + cpFloats;
    return state + activations + comm * Float.BYTES;
  }
}
