package dev.weft.models.llama;

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
 * Llama-family decoders exactly as Hugging Face's {@code LlamaForCausalLM} computes them in float32:
 * RMSNorm ({@code weight x / sqrt(mean(x^2) + eps)}) before attention and MLP and at the end; rotary
 * position embeddings in HF's rotate-half form (inv_freq_i = theta^(-2i/hd), positions 0..T-1) on q and k;
 * grouped-query attention (K/V head j serves query heads [j H/KV, (j+1) H/KV)), scores scaled by
 * 1/sqrt(hd); MLP {@code down(silu(gate(x)) * up(x))}; no biases; {@code lm_head} untied unless
 * {@code tie_word_embeddings}. Weights are stored as HF stores them, [out, in]:
 * <pre>
 *   model.embed_tokens.weight                          [V, C]
 *   model.layers.{i}.input_layernorm.weight            [C]
 *   model.layers.{i}.self_attn.q_proj.weight           [H hd, C]
 *   model.layers.{i}.self_attn.k_proj.weight           [KV hd, C]
 *   model.layers.{i}.self_attn.v_proj.weight           [KV hd, C]
 *   model.layers.{i}.self_attn.o_proj.weight           [C, H hd]
 *   model.layers.{i}.post_attention_layernorm.weight   [C]
 *   model.layers.{i}.mlp.gate_proj.weight              [F, C]
 *   model.layers.{i}.mlp.up_proj.weight                [F, C]
 *   model.layers.{i}.mlp.down_proj.weight              [C, F]
 *   model.norm.weight                                  [C]
 *   lm_head.weight                                     [V, C]   (absent when tied)
 * </pre>
 * q, k and v (and gate and up) are declared back to back, so a rank's slices of them are one matrix and one
 * GEMM. Tensor parallelism: q, k, v, gate, up column-parallel (whole query heads and whole K/V heads per
 * rank: tp must divide the K/V heads), o and down row-parallel, embeddings and head vocabulary-parallel.
 * Initialisation as HF's: every weight N(0, initializer_range = 0.02), norm gains 1; weights decay, norms not.
 */
public final class LlamaFamily implements ModelFamily {
  public static final LlamaFamily INSTANCE = new LlamaFamily();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String P = "model.layers.%d.";

  private LlamaFamily() {}

  @Override public String name() { return "llama"; }
  @Override public String displayName() { return "Llama"; }
  @Override public Set<String> modelTypes() { return Set.of("llama"); }

  @Override
  public List<String> presets() {
    return List.of("llama-micro", "llama-mini", "llama3-8b", "llama3-70b", "llama3-405b");
  }

  @Override
  public ModelSpec preset(String name, ModelShape o) {
    return apply(LlamaConfig.preset(name), o);
  }

  @Override
  public ModelSpec apply(ModelSpec base, ModelShape o) {
    return apply(base.config(LlamaConfig.class), o);
  }

  private ModelSpec apply(LlamaConfig c, ModelShape o) {
    if (!o.any()) return c.spec();
    int dModel = ModelShape.or(o.dModel(), c.dModel());
    int heads = ModelShape.or(o.heads(), c.heads());
    int headDim = o.dModel() != null || o.heads() != null ? (dModel % heads == 0 ? dModel / heads : -1) : c.headDim();
    if (headDim < 0) {
      throw new WeftInputException("--d-model " + dModel + " is not divisible by --heads " + heads + ": every head must "
          + "get the same width. Choose heads that divide d-model.");
    }
    int kv = o.kvHeads() != null ? o.kvHeads() : o.heads() != null && heads % c.kvHeads() != 0 ? heads : c.kvHeads();
    return new LlamaConfig(ModelShape.or(o.layers(), c.layers()), dModel, heads, kv, headDim,
        ModelShape.or(o.ffn(), c.ffn()), ModelShape.or(o.context(), c.context()), ModelShape.or(o.vocab(), c.vocab()),
        c.ropeTheta(), c.rmsEps(), c.tied()).spec();
  }

  /** The specification of a Llama of this shape. */
  public ModelSpec spec(LlamaConfig c) {
    int C = c.dModel(), H = c.heads(), KV = c.kvHeads(), hd = c.headDim(), F = c.ffn();
    float eps = (float) c.rmsEps();
    Init w = Init.normal(0.02);
    LinearSpec qkv = new LinearSpec(List.of("self_attn.q_proj.weight", "self_attn.k_proj.weight",
        "self_attn.v_proj.weight"), List.of(), WeightLayout.OUT_IN, C, (H + 2 * KV) * hd);
    LinearSpec o = new LinearSpec(List.of("self_attn.o_proj.weight"), List.of(), WeightLayout.OUT_IN, H * hd, C);
    LinearSpec gateUp = new LinearSpec(List.of("mlp.gate_proj.weight", "mlp.up_proj.weight"), List.of(),
        WeightLayout.OUT_IN, C, 2 * F);
    LinearSpec down = new LinearSpec(List.of("mlp.down_proj.weight"), List.of(), WeightLayout.OUT_IN, F, C);
    BlockSpec block = new BlockSpec(
        new NormSpec(NormSpec.Kind.RMS_NORM, eps, "input_layernorm.weight", null),
        new AttentionSpec(H, KV, hd, c.ropeTheta(), qkv, o),
        new NormSpec(NormSpec.Kind.RMS_NORM, eps, "post_attention_layernorm.weight", null),
        new MlpSpec(MlpSpec.Activation.SILU, true, F, gateUp, down));
    ModelSpec.Builder b = ModelSpec.builder(this, c, c.layers(), C, c.context(), c.vocab())
        .block(block, P)
        .tokenEmbedding("model.embed_tokens.weight", w)
        .blockParam("input_layernorm.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("self_attn.q_proj.weight", new int[] {H * hd, C}, TpSplit.dim(0, H * hd), w, true)
        .blockParam("self_attn.k_proj.weight", new int[] {KV * hd, C}, TpSplit.dim(0, KV * hd), w, true)
        .blockParam("self_attn.v_proj.weight", new int[] {KV * hd, C}, TpSplit.dim(0, KV * hd), w, true)
        .blockParam("self_attn.o_proj.weight", new int[] {C, H * hd}, TpSplit.dim(1, H * hd), w, true)
        .blockParam("post_attention_layernorm.weight", new int[] {C}, TpSplit.REPLICATED, Init.ONES, false)
        .blockParam("mlp.gate_proj.weight", new int[] {F, C}, TpSplit.dim(0, F), w, true)
        .blockParam("mlp.up_proj.weight", new int[] {F, C}, TpSplit.dim(0, F), w, true)
        .blockParam("mlp.down_proj.weight", new int[] {C, F}, TpSplit.dim(1, F), w, true)
        .finalNorm(new NormSpec(NormSpec.Kind.RMS_NORM, eps, "model.norm.weight", null));
    if (!c.tied()) b.untiedHead("lm_head.weight", w);
    return b.build();
  }

  @Override
  public ModelSpec readConfig(Path file, JsonNode root) {
    ConfigFields f = new ConfigFields(file, root, "Llama");
    int layers = f.positive("num_hidden_layers");
    int hidden = f.positive("hidden_size");
    int heads = f.positive("num_attention_heads");
    int kv = f.positive("num_key_value_heads", heads);
    int ffn = f.positive("intermediate_size");
    int context = f.positive("max_position_embeddings");
    int vocab = f.positive("vocab_size");
    if (!f.has("head_dim") && hidden % heads != 0) {
      throw new WeftInputException(file + " has hidden_size " + hidden + " not divisible by num_attention_heads "
          + heads + " and no head_dim. Fix the config.");
    }
    int headDim = f.positive("head_dim", hidden / heads);
    if (heads % kv != 0) {
      throw new WeftInputException(file + " has num_key_value_heads " + kv + ", which does not divide "
          + "num_attention_heads " + heads + ". Fix the config.");
    }
    f.refuseUnless("hidden_act", "silu");
    f.refuseIfPresent("rope_scaling", "supports only unscaled rotary embeddings (rope_scaling null)");
    f.refuseIfTrue("attention_bias");
    f.refuseIfTrue("mlp_bias");
    f.refuseUnlessNullOr("pretraining_tp", 1);
    double theta = f.positiveNumber("rope_theta", 10000.0);
    double eps = f.positiveNumber("rms_norm_eps", 1e-6);
    boolean tied = f.bool("tie_word_embeddings", false);
    return new LlamaConfig(layers, hidden, heads, kv, headDim, ffn, context, vocab, theta, eps, tied).spec();
  }

  @Override
  public ObjectNode writeConfig(ModelSpec spec, String torchDtype) {
    LlamaConfig c = spec.config(LlamaConfig.class);
    ObjectNode o = JSON.createObjectNode();
    o.put("model_type", "llama");
    o.putArray("architectures").add("LlamaForCausalLM");
    o.put("hidden_act", "silu");
    o.put("num_hidden_layers", c.layers());
    o.put("hidden_size", c.dModel());
    o.put("num_attention_heads", c.heads());
    o.put("num_key_value_heads", c.kvHeads());
    o.put("head_dim", c.headDim());
    o.put("intermediate_size", c.ffn());
    o.put("max_position_embeddings", c.context());
    o.put("vocab_size", c.vocab());
    o.put("rope_theta", c.ropeTheta());
    o.putNull("rope_scaling");
    o.put("rms_norm_eps", c.rmsEps());
    o.put("tie_word_embeddings", c.tied());
    o.put("attention_bias", false);
    o.put("attention_dropout", 0.0);
    o.put("mlp_bias", false);
    o.put("pretraining_tp", 1);
    o.put("initializer_range", 0.02);
    o.put("bos_token_id", 0);
    o.put("eos_token_id", c.vocab() - 1);
    o.put("use_cache", true);
    o.put("torch_dtype", torchDtype);
    return o;
  }

  /** Names are HF's; the rotary inv_freq buffers of older checkpoints are not parameters. */
  @Override
  public String canonicalName(ModelSpec spec, String stored) {
    if (stored.endsWith(".rotary_emb.inv_freq")) return null;
    if (spec.tied() && stored.equals("lm_head.weight")) return null;
    return stored;
  }

  @Override
  public void checkTensorNames(ModelSpec spec, Path file, Set<String> stored) {
    boolean hasHead = stored.contains("lm_head.weight");
    List<String> missing = new java.util.ArrayList<>();
    for (dev.weft.model.ParamSpec p : spec.params()) {
      if (!stored.contains(p.name()) && !(p.name().equals("lm_head.weight") && !spec.tied())) {
        missing.add(p.name() + " " + java.util.Arrays.toString(p.shape()));
      }
    }
    if (!missing.isEmpty()) {
      throw new WeftInputException(file + " lacks " + missing.size() + " of the " + spec.params().size()
          + " tensors its config.json describes (" + describe(spec) + "), first '" + missing.get(0) + "'"
          + (missing.size() > 1 ? ", then " + String.join(", ", missing.subList(1, Math.min(4, missing.size())))
          + (missing.size() > 4 ? ", ..." : "") : "") + ". The weights file is incomplete or belongs to another "
          + "model: re-download or re-save model.safetensors, or fix config.json (num_hidden_layers, hidden_size, "
          + "num_key_value_heads, ...) to the model the weights are of.");
    }
    if (!spec.tied() && !hasHead) {
      throw new WeftInputException(file + " has no tensor 'lm_head.weight' but its config.json says "
          + "tie_word_embeddings is false (an output head of its own). Set tie_word_embeddings to true if the model's "
          + "logits use model.embed_tokens.weight, or give the checkpoint with its lm_head.");
    }
    if (spec.tied() && hasHead) {
      throw new WeftInputException(file + " has a tensor 'lm_head.weight' but its config.json says "
          + "tie_word_embeddings is true (the logits use model.embed_tokens.weight). The flag contradicts the tensors:"
          + " set tie_word_embeddings to false to train the head of its own, or remove lm_head.weight.");
    }
  }

  @Override
  public String describe(ModelSpec s) {
    LlamaConfig c = s.config(LlamaConfig.class);
    return "Llama L=" + c.layers() + " C=" + c.dModel() + " heads=" + c.heads() + " kv=" + c.kvHeads() + " F="
        + c.ffn() + " T=" + c.context() + " V=" + c.vocab() + (c.tied() ? " tied" : "");
  }
}
