package dev.weft.models.gpt2;

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
import java.util.regex.Pattern;

/**
 * GPT-2 exactly as Hugging Face defines it ({@code GPT2LMHeadModel}): pre-LayerNorm blocks (eps 1e-5),
 * learned position embeddings, a fused q|k|v projection {@code attn.c_attn} [C, 3C] stored input-major
 * (Conv1D), causal attention over C/NH-wide heads, an MLP 4C wide with GELU in its tanh form, biases
 * everywhere, a final LayerNorm and logits by the tied token embedding. Names as in HF checkpoints:
 * {@code wte.weight [V,C]}, {@code wpe.weight [T,C]}, {@code h.{i}.ln_1.weight|bias}, {@code
 * h.{i}.attn.c_attn.weight [C,3C]}, {@code .bias [3C]}, {@code h.{i}.attn.c_proj.weight [C,C]}, {@code .bias},
 * {@code h.{i}.ln_2.*}, {@code h.{i}.mlp.c_fc.weight [C,4C]}, {@code .bias [4C]}, {@code
 * h.{i}.mlp.c_proj.weight [4C,C]}, {@code .bias}, {@code ln_f.weight|bias}.
 *
 * <p>Tensor parallelism (Megatron's plan): c_attn column-parallel by whole heads of q, k and v, c_fc
 * column-parallel, both c_proj row-parallel (biases replicated, added after the sum), wte
 * vocabulary-parallel, the rest replicated. Initialisation (GPT-2 paper): weights N(0, 0.02), the two
 * residual projections N(0, 0.02 / sqrt(2L)), biases 0, LayerNorm gains 1; matrices and embeddings decay.
 */
public final class Gpt2Family implements ModelFamily {
  public static final Gpt2Family INSTANCE = new Gpt2Family();
  private static final Pattern MASK_BUFFER = Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)");
  private static final ObjectMapper JSON = new ObjectMapper();

  private Gpt2Family() {}

  @Override public String name() { return "gpt2"; }
  @Override public String displayName() { return "GPT-2"; }
  @Override public Set<String> modelTypes() { return Set.of("gpt2"); }
  @Override public List<String> presets() { return List.of("nano", "micro", "mini", "small", "gpt2-xl"); }

  @Override
  public ModelSpec preset(String name, ModelShape o) {
    return apply(GPT2Config.preset(name), o);
  }

  @Override
  public ModelSpec apply(ModelSpec base, ModelShape o) {
    return apply(base.config(GPT2Config.class), o);
  }

  private ModelSpec apply(GPT2Config c, ModelShape o) {
    if (o.kvHeads() != null && o.kvHeads() != ModelShape.or(o.heads(), c.heads())) {
      throw new WeftInputException("--kv-heads: GPT-2 has one key/value head per query head; grouped-query "
          + "attention is a Llama-family feature (e.g. --model llama-mini).");
    }
    if (o.ffn() != null && o.ffn() != 4 * ModelShape.or(o.dModel(), c.dModel())) {
      throw new WeftInputException("--ffn: GPT-2's MLP is 4 x d-model wide (" + 4 * ModelShape.or(o.dModel(), c.dModel())
          + "); drop --ffn or use a Llama-family model.");
    }
    return new GPT2Config(ModelShape.or(o.layers(), c.layers()), ModelShape.or(o.dModel(), c.dModel()),
        ModelShape.or(o.heads(), c.heads()), ModelShape.or(o.context(), c.context()),
        ModelShape.or(o.vocab(), c.vocab())).spec();
  }

  /** The specification of a GPT-2 of this shape. */
  public ModelSpec spec(GPT2Config c) {
    int C = c.dModel(), L = c.layers(), H = c.heads();
    double std = 0.02, residualStd = 0.02 / Math.sqrt(2.0 * L);
    NormSpec ln1 = new NormSpec(NormSpec.Kind.LAYER_NORM, 1e-5f, "ln_1.weight", "ln_1.bias");
    NormSpec ln2 = new NormSpec(NormSpec.Kind.LAYER_NORM, 1e-5f, "ln_2.weight", "ln_2.bias");
    LinearSpec qkv = new LinearSpec(List.of("attn.c_attn.weight"), List.of("attn.c_attn.bias"), WeightLayout.IN_OUT, C,
        3 * C);
    LinearSpec proj = new LinearSpec(List.of("attn.c_proj.weight"), List.of("attn.c_proj.bias"), WeightLayout.IN_OUT, C,
        C);
    LinearSpec fc = new LinearSpec(List.of("mlp.c_fc.weight"), List.of("mlp.c_fc.bias"), WeightLayout.IN_OUT, C, 4 * C);
    LinearSpec fcProj = new LinearSpec(List.of("mlp.c_proj.weight"), List.of("mlp.c_proj.bias"), WeightLayout.IN_OUT,
        4 * C, C);
    BlockSpec block = new BlockSpec(ln1, new AttentionSpec(H, H, C / H, 0, qkv, proj), ln2,
        new MlpSpec(MlpSpec.Activation.GELU_TANH, false, 4 * C, fc, fcProj));
    return ModelSpec.builder(this, c, L, C, c.context(), c.vocab())
        .block(block, "h.%d.")
        .tokenEmbedding("wte.weight", Init.normal(std))
        .positionEmbedding("wpe.weight", Init.normal(std))
        .blockParam("ln_1.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("ln_1.bias", new int[] {C}, TpSplit.REPLICATED, Init.ZEROS, false)
        .blockParam("attn.c_attn.weight", new int[] {C, 3 * C}, TpSplit.dim(1, C, C, C), Init.normal(std), true)
        .blockParam("attn.c_attn.bias", new int[] {3 * C}, TpSplit.dim(0, C, C, C), Init.ZEROS, false)
        .blockParam("attn.c_proj.weight", new int[] {C, C}, TpSplit.dim(0, C), Init.normal(residualStd), true)
        .blockParam("attn.c_proj.bias", new int[] {C}, TpSplit.REPLICATED, Init.ZEROS, false)
        .blockParam("ln_2.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("ln_2.bias", new int[] {C}, TpSplit.REPLICATED, Init.ZEROS, false)
        .blockParam("mlp.c_fc.weight", new int[] {C, 4 * C}, TpSplit.dim(1, 4 * C), Init.normal(std), true)
        .blockParam("mlp.c_fc.bias", new int[] {4 * C}, TpSplit.dim(0, 4 * C), Init.ZEROS, false)
        .blockParam("mlp.c_proj.weight", new int[] {4 * C, C}, TpSplit.dim(0, 4 * C), Init.normal(residualStd), true)
        .blockParam("mlp.c_proj.bias", new int[] {C}, TpSplit.REPLICATED, Init.ZEROS, false)
        .finalNorm(new NormSpec(NormSpec.Kind.LAYER_NORM, 1e-5f, "ln_f.weight", "ln_f.bias"))
        .build();
  }

  @Override
  public ModelSpec readConfig(Path file, JsonNode root) {
    ConfigFields f = new ConfigFields(file, root, "GPT-2");
    int layers = f.positive("n_layer");
    int dModel = f.positive("n_embd");
    int heads = f.positive("n_head");
    if (!f.has("n_positions") && !f.has("n_ctx")) {
      throw new WeftInputException(file + " has no \"n_positions (or n_ctx)\" field. A GPT-2 config.json needs n_layer, "
          + "n_embd, n_head, n_positions and vocab_size; add the missing one.");
    }
    int context = f.has("n_positions") ? f.positive("n_positions") : f.positive("n_ctx");
    int vocab = f.positive("vocab_size");
    if (dModel % heads != 0) {
      throw new WeftInputException(file + " has n_embd " + dModel + " not divisible by n_head " + heads
          + ": every head must get the same width. Fix the config.");
    }
    f.refuseUnless("activation_function", "gelu_new", "gelu_pytorch_tanh");
    f.refuseUnlessNullOr("n_inner", 4 * dModel);
    f.refuseUnlessNumber("layer_norm_epsilon", 1e-5);
    f.refuseIfTrue("scale_attn_by_inverse_layer_idx");
    f.refuseIfTrue("reorder_and_upcast_attn");
    f.refuseIfFalse("scale_attn_weights");
    f.refuseUnlessBoolean("tie_word_embeddings", true);
    return new GPT2Config(layers, dModel, heads, context, vocab).spec();
  }

  @Override
  public ObjectNode writeConfig(ModelSpec spec, String torchDtype) {
    GPT2Config c = spec.config(GPT2Config.class);
    ObjectNode o = JSON.createObjectNode();
    o.put("model_type", "gpt2");
    o.putArray("architectures").add("GPT2LMHeadModel");
    o.put("activation_function", "gelu_new");
    o.put("n_layer", c.layers());
    o.put("n_embd", c.dModel());
    o.put("n_head", c.heads());
    o.put("n_ctx", c.context());
    o.put("n_positions", c.context());
    o.put("vocab_size", c.vocab());
    o.putNull("n_inner"); // transformers: null means 4 * n_embd
    o.put("layer_norm_epsilon", 1e-5);
    o.put("initializer_range", 0.02);
    o.put("attn_pdrop", 0.0);
    o.put("embd_pdrop", 0.0);
    o.put("resid_pdrop", 0.0);
    o.put("scale_attn_weights", true);
    o.put("scale_attn_by_inverse_layer_idx", false);
    o.put("reorder_and_upcast_attn", false);
    o.put("tie_word_embeddings", true);
    o.put("bos_token_id", c.vocab() - 1);
    o.put("eos_token_id", c.vocab() - 1);
    o.put("use_cache", true);
    o.put("torch_dtype", torchDtype);
    return o;
  }

  /**
   * Strips the {@code transformer.} prefix of GPT2LMHeadModel; skips {@code lm_head.weight} (tied to wte)
   * and the attention-mask buffers {@code h.N.attn.bias} / {@code h.N.attn.masked_bias}.
   */
  @Override
  public String canonicalName(ModelSpec spec, String name) {
    String n = name.startsWith("transformer.") ? name.substring("transformer.".length()) : name;
    if (n.equals("lm_head.weight") || MASK_BUFFER.matcher(n).matches()) return null;
    return n;
  }

  @Override
  public String describe(ModelSpec s) {
    return "GPT-2 L=" + s.layers() + " C=" + s.dModel() + " heads=" + s.heads() + " T=" + s.context() + " V="
        + s.vocab();
  }
}
