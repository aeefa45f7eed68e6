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
  void theRanksSlicesOfEverySplitParameterTileTheFullTensorExactlyOnce(int t) {
    ParameterLayout full = new ParameterLayout(MODEL);
    for (ParameterLayout.Param p : full.params()) {
      if (p.name().equals("wte.weight")) continue; // vocabulary padding: covered by the parity tests
      float[] ids = new float[p.size()];
      for (int i = 0; i < ids.length; i++) ids[i] = i + 1;
      int[] seen = new int[p.size()];
      for (int r = 0; r < t; r++) {
        ParameterLayout local = new ParameterLayout(MODEL, t, r); // applies the plan and verifies it
        ParameterLayout.Param lp = local.get(p.name());
        float[] mine = new float[lp.size()];
        lp.slice().extract(ids, 0, p.shape(), mine, 0, lp.shape());
        for (float id : mine) seen[(int) id - 1]++;
        boolean split = local.plan().styleOf(p.name()) != TensorParallelPlan.Style.REPLICATED
            && !(p.name().endsWith(".bias") && local.plan().styleOf(p.name()) == TensorParallelPlan.Style.ROWWISE);
        assertThat(lp.size() * (split ? t : 1)).as(p.name()).isEqualTo(p.size());
      }
      boolean replicated = new ParameterLayout(MODEL, t, 0).get(p.name()).replicated();
      for (int i = 0; i < seen.length; i++) {
        assertThat(seen[i]).as("%s element %d", p.name(), i).isEqualTo(replicated ? t : 1);
      }
    }
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
