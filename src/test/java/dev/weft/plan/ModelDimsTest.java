package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.weft.WeftInputException;
import dev.weft.models.gpt2.GPT2Config;
import org.junit.jupiter.api.Test;

class ModelDimsTest {
  @Test
  void aGpt2ShapeCountsTheParametersGpt2ConfigCountsAndRoundTrips() {
    for (String p : new String[] {"nano", "micro", "mini", "small"}) {
      GPT2Config c = GPT2Config.preset(p);
      ModelDims m = ModelDims.of(c);
      assertThat(m.parameterCount()).as(p).isEqualTo(c.parameterCount());
      assertThat(m.toGpt2()).isEqualTo(c);
      assertThat(m.layerMatrixParams()).isEqualTo(12L * c.dModel() * c.dModel());
    }
  }

  /**
   * Llama 3 405B (Dubey et al. 2024, Table 3): 126 layers of 16384 with 128 query and 8 key/value heads of 128,
   * a SwiGLU MLP of 53248, untied 128256-token embeddings: 405.8 billion parameters, "405B".
   */
  @Test
  void llama3With405BillionParametersFromGroupedQueryAttentionAndASwiGluMlp() {
    ModelDims m = PlanModels.preset("llama3-405b");
    long h = 16384, kv = 8 * 128, f = 53248, V = 128256;
    long layer = h * (h + 2 * kv) + h * h + 3 * h * f + 2 * h; // q,k,v; o; gate, up, down; two RMSNorms
    assertThat(m.layerParams()).isEqualTo(layer);
    assertThat(m.parameterCount()).isEqualTo(126 * layer + 2 * V * h + h);
    assertThat(m.parameterCount() / 1e9).isCloseTo(405.8, within(0.1));
    // Model FLOPs: 6 per matrix parameter and token, attention 12 L h s, logits 6 h V.
    double perToken = 6.0 * 126 * (layer - 2 * h) + 12.0 * 126 * h * 8192 + 6.0 * h * V;
    assertThat(m.modelFlopsPerToken()).isCloseTo(perToken, within(perToken * 1e-12));
  }

  @Test
  void aTensorParallelRankSplitsMatricesAndColumnBiasesAndKeepsNormsAndRowBiasesWhole() {
    ModelDims gpt = ModelDims.of(GPT2Config.preset("small"));
    long h = gpt.hidden();
    assertThat(MemoryModel.layerParamsPerDevice(gpt, 4)).isEqualTo(MemoryModel.layerParamsPerDevice(h, 4));
    ModelDims llama = PlanModels.preset("llama3-8b");
    assertThat(MemoryModel.layerParamsPerDevice(llama, 8)).isEqualTo(llama.layerMatrixParams() / 8 + 2L * llama.hidden());
  }

  @Test
  void badShapesAndNonGpt2ShapesAreRefusedWithTheReason() {
    assertThatThrownBy(() -> new ModelDims("x", 2, 100, 3, 3, 400, false, 10, 8, true, true, true, true))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("multiple of the 3 heads");
    assertThatThrownBy(() -> ModelDims.llama("x", 2, 128, 8, 3, 256, 10, 8))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("key/value heads");
    assertThatThrownBy(() -> PlanModels.preset("llama3-8b").toGpt2())
        .isInstanceOf(WeftInputException.class).hasMessageContaining("not a GPT-2 shape");
    assertThatThrownBy(() -> PlanModels.preset("gpt-5"))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("llama3-405b").hasMessageContaining("1.7b");
  }
}
