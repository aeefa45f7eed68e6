package dev.weft.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.kernels.WeightLayout;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.models.gpt2.Gpt2Family;
import dev.weft.models.llama.LlamaConfig;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * A family's declaration is data the parallel core reads: applied for every tensor-parallel rank, every
 * split parameter's slices tile the full tensor exactly once (replicated ones are whole on every rank), for
 * GPT-2's fused [in, out] q|k|v and for Llama's separate [out, in] q, k, v with fewer K/V heads; and a
 * declaration whose splits do not fit the block it computes is refused, naming the parameter.
 */
class ModelSpecTest {
  static final ModelSpec GPT2 = new GPT2Config(3, 48, 6, 16, 250).spec();
  static final ModelSpec LLAMA = new LlamaConfig(2, 48, 6, 2, 8, 40, 16, 250, 10000, 1e-5, false).spec();

  @ParameterizedTest(name = "tp={0}")
  @ValueSource(ints = {1, 2, 3, 6})
  void gpt2SlicesOfEverySplitParameterTileTheFullTensorExactlyOnce(int t) {
    assertTiles(GPT2, t);
  }

  @ParameterizedTest(name = "tp={0}")
  @ValueSource(ints = {1, 2})
  void llamaSlicesOfEverySplitParameterTileTheFullTensorExactlyOnce(int t) {
    assertTiles(LLAMA, t);
  }

  static void assertTiles(ModelSpec spec, int t) {
    ParameterLayout full = new ParameterLayout(spec);
    for (ParameterLayout.Param p : full.params()) {
      float[] ids = new float[p.size()];
      for (int i = 0; i < ids.length; i++) ids[i] = i + 1;
      int[] seen = new int[p.size()];
      for (int r = 0; r < t; r++) {
        ParameterLayout.Param lp = new ParameterLayout(spec, t, r).get(p.name());
        float[] mine = new float[lp.size()];
        lp.slice().extract(ids, 0, p.shape(), mine, 0, lp.shape());
        for (float id : mine) if (id > 0) seen[(int) id - 1]++; // 0: vocabulary padding
      }
      boolean replicated = new ParameterLayout(spec, t, 0).get(p.name()).replicated();
      for (int i = 0; i < seen.length; i++) {
        assertThat(seen[i]).as("%s element %d at tp=%d", p.name(), i, t).isEqualTo(replicated ? t : 1);
      }
    }
  }

  @Test
  void tensorParallelismNeedsWholeQueryAndKeyValueHeadsPerRank() {
    assertThatThrownBy(() -> new ParameterLayout(GPT2, 4, 0)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("does not divide the 6 attention heads");
    assertThatThrownBy(() -> new ParameterLayout(LLAMA, 3, 0)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("does not divide the 2 key/value heads");
  }

  @Test
  void aDeclarationThatDoesNotSplitAColumnParallelLayerIsRefused() {
    assertThatThrownBy(() -> misdeclared(TpSplit.REPLICATED)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("mlp.fc.weight is column-parallel");
    assertThatThrownBy(() -> misdeclared(TpSplit.dim(0, 8))).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("must split its output dimension 1");
  }

  /** A tiny GPT-2-like model whose MLP input weight is declared with {@code fcSplit}. */
  static ModelSpec misdeclared(TpSplit fcSplit) {
    int C = 8, F = 16;
    LinearSpec qkv = new LinearSpec(List.of("attn.qkv.weight"), List.of(), WeightLayout.IN_OUT, C, 3 * C);
    LinearSpec out = new LinearSpec(List.of("attn.out.weight"), List.of(), WeightLayout.IN_OUT, C, C);
    LinearSpec fc = new LinearSpec(List.of("mlp.fc.weight"), List.of(), WeightLayout.IN_OUT, C, F);
    LinearSpec fc2 = new LinearSpec(List.of("mlp.proj.weight"), List.of(), WeightLayout.IN_OUT, F, C);
    NormSpec n1 = new NormSpec(NormSpec.Kind.RMS_NORM, 1e-5f, "n1.weight", null);
    NormSpec n2 = new NormSpec(NormSpec.Kind.RMS_NORM, 1e-5f, "n2.weight", null);
    BlockSpec block = new BlockSpec(n1, new AttentionSpec(2, 2, 4, 0, qkv, out), n2,
        new MlpSpec(MlpSpec.Activation.GELU_TANH, false, F, fc, fc2));
    return ModelSpec.builder(Gpt2Family.INSTANCE, "test", 1, C, 4, 10).block(block, "b.%d.")
        .tokenEmbedding("emb", Init.normal(0.02)).positionEmbedding("pos", Init.normal(0.02))
        .blockParam("n1.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("attn.qkv.weight", new int[] {C, 3 * C}, TpSplit.dim(1, C, C, C), Init.normal(0.02), true)
        .blockParam("attn.out.weight", new int[] {C, C}, TpSplit.dim(0, C), Init.normal(0.02), true)
        .blockParam("n2.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("mlp.fc.weight", new int[] {C, F}, fcSplit, Init.normal(0.02), true)
        .blockParam("mlp.proj.weight", new int[] {F, C}, TpSplit.dim(0, F), Init.normal(0.02), true)
        .finalNorm(new NormSpec(NormSpec.Kind.RMS_NORM, 1e-5f, "norm.weight", null))
        .build();
  }
}
