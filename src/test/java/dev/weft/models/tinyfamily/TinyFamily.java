package dev.weft.models.tinyfamily;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.WeftInputException;
import dev.weft.kernels.WeightLayout;
import dev.weft.model.AttentionSpec;
import dev.weft.model.BlockSpec;
import dev.weft.model.Init;
import dev.weft.model.LinearSpec;
import dev.weft.model.MlpSpec;
import dev.weft.model.ModelFamily;
import dev.weft.model.ModelShape;
import dev.weft.model.ModelSpec;
import dev.weft.model.NormSpec;
import dev.weft.model.TpSplit;
import dev.weft.models.ConfigFields;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A third model family, written the way a newcomer adds one: this one class (and, to reach the command line, a
 * line in {@code dev.weft.models.Families}). It is GPT-2 with RMSNorm and no biases: learned position
 * embeddings, a fused q|k|v projection stored [in, out], causal multi-head attention, an MLP 4C wide with GELU,
 * a final RMSNorm and logits by the tied token embedding.
 *
 * <p>The family only declares; nothing here computes. {@link #spec} says what a block is ({@link BlockSpec}: the
 * norms, the attention with its heads and position scheme, the MLP with its activation) and lists every
 * parameter with its full shape, how tensor parallelism splits it, how it is initialised and whether it decays.
 * The decoder, the parameter layout, tensor/pipeline/context/data parallelism, ZeRO, checkpoints and the memory
 * models read that declaration. {@link ModelSpec} checks it against the block (shapes, whole heads per rank)
 * and names any mistake.
 */
public final class TinyFamily implements ModelFamily {
  public static final TinyFamily INSTANCE = new TinyFamily();
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The family's configuration: what its config.json holds. */
  public record Config(int layers, int dModel, int heads, int context, int vocab) {
    public ModelSpec spec() {
      return INSTANCE.spec(this);
    }
  }

  private TinyFamily() {}

  @Override public String name() { return "tiny"; }
  @Override public String displayName() { return "Tiny (GPT-2 with RMSNorm, no biases)"; }
  @Override public Set<String> modelTypes() { return Set.of("weft-tiny"); }
  @Override public List<String> presets() { return List.of("tiny-test"); }

  @Override
  public ModelSpec preset(String name, ModelShape overrides) {
    if (!name.equals("tiny-test")) throw new IllegalArgumentException("no tiny preset " + name);
    return apply(new Config(2, 32, 4, 16, 256).spec(), overrides);
  }

  @Override
  public ModelSpec apply(ModelSpec base, ModelShape o) {
    Config c = base.config(Config.class);
    if (o.kvHeads() != null || o.ffn() != null) {
      throw new WeftInputException("--kv-heads and --ffn: the tiny family has one K/V head per query head and an MLP "
          + "4 x d-model wide.");
    }
    return new Config(ModelShape.or(o.layers(), c.layers()), ModelShape.or(o.dModel(), c.dModel()),
        ModelShape.or(o.heads(), c.heads()), ModelShape.or(o.context(), c.context()),
        ModelShape.or(o.vocab(), c.vocab())).spec();
  }

  /** The declaration: the block, then every parameter in flat order (embeddings, one block's, the final norm). */
  public ModelSpec spec(Config c) {
    int C = c.dModel(), H = c.heads();
    Init w = Init.normal(0.02), residual = Init.normal(0.02 / Math.sqrt(2.0 * c.layers()));
    // the block: h = x + proj(attn(qkv(rms_1(x)))); y = h + fc2(gelu(fc(rms_2(h))))
    NormSpec rms1 = new NormSpec(NormSpec.Kind.RMS_NORM, 1e-5f, "rms_1.weight", null);
    NormSpec rms2 = new NormSpec(NormSpec.Kind.RMS_NORM, 1e-5f, "rms_2.weight", null);
    LinearSpec qkv = new LinearSpec(List.of("attn.qkv.weight"), List.of(), WeightLayout.IN_OUT, C, 3 * C);
    LinearSpec proj = new LinearSpec(List.of("attn.proj.weight"), List.of(), WeightLayout.IN_OUT, C, C);
    LinearSpec fc = new LinearSpec(List.of("mlp.fc.weight"), List.of(), WeightLayout.IN_OUT, C, 4 * C);
    LinearSpec fc2 = new LinearSpec(List.of("mlp.proj.weight"), List.of(), WeightLayout.IN_OUT, 4 * C, C);
    BlockSpec block = new BlockSpec(rms1, new AttentionSpec(H, H, C / H, 0 /* learned positions */, qkv, proj), rms2,
        new MlpSpec(MlpSpec.Activation.GELU_TANH, false, 4 * C, fc, fc2));
    // the parameters: column-parallel weights split their output (q|k|v by whole heads), row-parallel their input
    return ModelSpec.builder(this, c, c.layers(), C, c.context(), c.vocab())
        .block(block, "h.%d.")
        .tokenEmbedding("wte.weight", w)
        .positionEmbedding("wpe.weight", w)
        .blockParam("rms_1.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("attn.qkv.weight", new int[] {C, 3 * C}, TpSplit.dim(1, C, C, C), w, true)
        .blockParam("attn.proj.weight", new int[] {C, C}, TpSplit.dim(0, C), residual, true)
        .blockParam("rms_2.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("mlp.fc.weight", new int[] {C, 4 * C}, TpSplit.dim(1, 4 * C), w, true)
        .blockParam("mlp.proj.weight", new int[] {4 * C, C}, TpSplit.dim(0, 4 * C), residual, true)
        .finalNorm(new NormSpec(NormSpec.Kind.RMS_NORM, 1e-5f, "rms_f.weight", null))
        .build(); // no untiedHead(...): the logits use wte
  }

  @Override
  public ModelSpec readConfig(Path file, JsonNode root) {
    ConfigFields f = new ConfigFields(file, root, "tiny");
    return new Config(f.positive("n_layer"), f.positive("n_embd"), f.positive("n_head"), f.positive("n_positions"),
        f.positive("vocab_size")).spec();
  }

  @Override
  public ObjectNode writeConfig(ModelSpec spec, String torchDtype) {
    Config c = spec.config(Config.class);
    ObjectNode o = JSON.createObjectNode();
    o.put("model_type", "weft-tiny");
    o.put("n_layer", c.layers());
    o.put("n_embd", c.dModel());
    o.put("n_head", c.heads());
    o.put("n_positions", c.context());
    o.put("vocab_size", c.vocab());
    o.put("torch_dtype", torchDtype);
    return o;
  }

  /** Checkpoint names are the parameter names. */
  @Override
  public String canonicalName(ModelSpec spec, String stored) {
    return stored;
  }

  @Override
  public String describe(ModelSpec s) {
    return "Tiny L=" + s.layers() + " C=" + s.dModel() + " heads=" + s.heads() + " T=" + s.context() + " V=" + s.vocab();
  }
}
