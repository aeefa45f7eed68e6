package dev.weft.train;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Full activation recomputation: backward's second forward of every block reproduces the stored activations
 * bit for bit, so gradients equal those of the same layout without recomputation exactly, under every
 * paradigm whose collectives run again (TP, SP, CP, ZeRO-3's gathers, pipelines); 20 training steps equal
 * one device without recomputation (losses 1e-5 relative, parameters 1e-4); and the memory it saves is the
 * memory counted: measured peak = state + activations by hand, with activations below a third of the
 * stored ones for this 8-layer model.
 */
class RecomputationTest {
  static final ModelSpec MODEL = new GPT2Config(8, 32, 4, 16, 256).spec();
  @TempDir static Path dir;
  static ParityRun run;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(MODEL, dir, 8, 2);
  }

  static Parallelism layout(int dp, int tp, int pp, int cp, boolean sp, int zero, String schedule,
                                        String cpAttention) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    return Parallelism.builder().dp(dp).tp(tp).pp(pp).cp(cp).sp(sp).zero(zero).schedule(schedule).virtualStages(v).cpMethod(cpAttention).build();
  }

  @ParameterizedTest(name = "dp={0} tp={1} pp={2} cp={3} sp={4} zero={5} {6} {7}")
  @CsvSource({"1,1,1,1,false,0,1f1b,ring", "2,1,1,1,false,3,1f1b,ring", "1,2,1,1,true,0,1f1b,ring",
      "1,1,1,2,false,0,1f1b,ring", "1,1,1,2,false,0,1f1b,alltoall", "1,1,2,1,false,0,1f1b,ring",
      "1,1,2,1,false,0,interleaved,ring", "1,2,2,1,true,0,gpipe,ring", "1,1,2,2,false,0,1f1b,ring"})
  void recomputedGradientsEqualStoredOnesExactly(int dp, int tp, int pp, int cp, boolean sp, int zero, String schedule,
                                                 String cpAttention) {
    ParameterLayout full = new ParameterLayout(MODEL);
    float[] weights = TestCorpus.perturbedWeights(full);
    int[] tokens = TestCorpus.randomTokens(4, 16, MODEL.vocab());
    Parallelism stored = layout(dp, tp, pp, cp, sp, zero, schedule, cpAttention);
    Gradients.Result a = Gradients.compute(full, weights, tokens, 4, 16, stored, 1, "vector");
    Gradients.Result b = Gradients.compute(full, weights, tokens, 4, 16, stored.withRecompute(true), 1, "vector");
    assertThat(b.loss()).isEqualTo(a.loss());
    int at = java.util.Arrays.mismatch(b.grads(), a.grads());
    assertThat(at).as("first differing gradient element (of %d)", a.grads().length).isEqualTo(-1);
  }

  @ParameterizedTest(name = "dp={0} tp={1} pp={2} cp={3} sp={4} zero={5} {6} mb={7}")
  @CsvSource({"1,1,1,1,false,0,1f1b,8", "2,1,1,1,false,2,1f1b,2", "1,2,1,1,true,0,1f1b,4", "1,1,1,2,false,0,1f1b,8",
      "1,1,2,1,false,0,1f1b,2", "1,1,2,2,false,0,gpipe,4"})
  void trainsTheSameModelAsOneDeviceWithoutRecomputation(int dp, int tp, int pp, int cp, boolean sp, int zero,
                                                         String schedule, int microBatch) {
    run.assertTrainsLikeOneDevice(layout(dp, tp, pp, cp, sp, zero, schedule, "ring").withRecompute(true), microBatch);
  }

  @Test
  void savesTheActivationMemoryItCounts() {
    Parallelism one = Parallelism.SINGLE;
    Trainer.Result stored = run.serial();
    Trainer.Result recomputed = run.train(one.withRecompute(true), 8);
    for (Trainer.Result r : List.of(stored, recomputed)) {
      assertThat((double) r.peakBytes() / (r.stateBytes() + r.activationBytes())).isBetween(0.99, 1.01);
    }
    assertThat(recomputed.stateBytes()).isEqualTo(stored.stateBytes());
    assertThat((double) recomputed.activationBytes() / stored.activationBytes()).isLessThan(1 / 3.0);
    assertThat(recomputed.peakBytes()).isLessThan(stored.peakBytes());
  }

  @Test
  void refusesTheZeroBubbleScheduleWhichNeedsEveryBlocksActivations() {
    assertThatThrownBy(() -> layout(1, 1, 2, 1, false, 0, "zb", "ring").withRecompute(true).validate())
        .isInstanceOf(WeftInputException.class).hasMessageContaining("--recompute full with --schedule zb")
        .hasMessageContaining("--schedule 1f1b");
  }
}
