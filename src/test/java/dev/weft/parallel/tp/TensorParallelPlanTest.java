package dev.weft.parallel.tp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.model.GPT2Config;
import dev.weft.model.ParameterLayout;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The tensor-parallel plan is data; applied to a model it splits every planned layer, and the check proves it. */
class TensorParallelPlanTest {
  static final GPT2Config MODEL = new GPT2Config(3, 48, 6, 16, 250);

  @Test
  void rulesMatchModulePathsWithWildcards() {
    TensorParallelPlan plan = TensorParallelPlan.gpt2();
    assertThat(plan.styleOf("h.2.attn.c_attn.weight")).isEqualTo(TensorParallelPlan.Style.COLWISE_QKV);
    assertThat(plan.styleOf("h.10.mlp.c_proj.bias")).isEqualTo(TensorParallelPlan.Style.ROWWISE);
    assertThat(plan.styleOf("wte.weight")).isEqualTo(TensorParallelPlan.Style.VOCAB);
    assertThat(plan.styleOf("h.0.ln_1.weight")).isEqualTo(TensorParallelPlan.Style.REPLICATED);
    assertThat(plan.styleOf("something.else.weight")).isEqualTo(TensorParallelPlan.Style.REPLICATED);
  }

  @ParameterizedTest(name = "tp={0}")
  @ValueSource(ints = {1, 2, 3, 6})
  void everyPlannedLayerIsSplitOnEveryRank(int t) {
    long split = 0, full = 0;
    for (int r = 0; r < t; r++) {
      ParameterLayout layout = new ParameterLayout(MODEL, t, r); // applies the plan and verifies it
      for (ParameterLayout.Param p : layout.params()) {
        if (layout.plan().styleOf(p.name()) == TensorParallelPlan.Style.COLWISE && t > 1) {
          assertThat(p.size() * t).as(p.name()).isEqualTo(java.util.Arrays.stream(p.fullShape()).reduce(1, (a, b) -> a * b));
          split += p.size();
        }
      }
      full = new ParameterLayout(MODEL).get("h.0.mlp.c_fc.weight").size() * 3L + 4L * 48 * 3;
    }
    if (t > 1) assertThat(split).isEqualTo(full);
  }

  @Test
  void aLayoutThatDoesNotSplitAPlannedLayerIsRejected() {
    TensorParallelPlan wrong = new TensorParallelPlan(List.of(new TensorParallelPlan.Rule("h.*.mlp.c_fc",
        TensorParallelPlan.Style.REPLICATED)));
    assertThatThrownBy(() -> TensorParallelPlan.verify(wrong, new ParameterLayout(MODEL, 2, 0)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("planned REPLICATED but the GPT-2 forward computes it");
  }
}
