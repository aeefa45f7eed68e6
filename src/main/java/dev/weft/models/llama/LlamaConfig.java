package dev.weft.models.llama;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;

/**
 * The shape of a Llama-family model, as Hugging Face's {@code LlamaConfig} names it: layers
 * ({@code num_hidden_layers}), width C ({@code hidden_size}), query heads ({@code num_attention_heads}),
 * key/value heads ({@code num_key_value_heads}; fewer = grouped-query attention), head width
 * ({@code head_dim}, default C / heads), MLP width F ({@code intermediate_size}), context
 * ({@code max_position_embeddings}), vocabulary ({@code vocab_size}), {@code rope_theta}, {@code rms_norm_eps}
 * and {@code tie_word_embeddings}. Parameters: {@code V C (x2 untied) + L (C (2 H + 2 KV) hd + 3 C F + 2 C) + C}.
 */
public record LlamaConfig(int layers, int dModel, int heads, int kvHeads, int headDim, int ffn, int context, int vocab,
                          double ropeTheta, double rmsEps, boolean tied) {
  public LlamaConfig {
    positive("--layers", layers);
    positive("--d-model", dModel);
    positive("--heads", heads);
    positive("--kv-heads", kvHeads);
    positive("head_dim", headDim);
    positive("--ffn", ffn);
    positive("--context", context);
    positive("--vocab", vocab);
    if (heads % kvHeads != 0) {
      throw new WeftInputException("--kv-heads " + kvHeads + " does not divide --heads " + heads + ": in grouped-query "
          + "attention every key/value head serves the same number of query heads. Choose key/value heads that divide "
          + heads + ".");
    }
    if (headDim % 2 != 0) {
      throw new WeftInputException("the head width " + headDim + " is odd; rotary position embeddings rotate pairs of "
          + "features, so it must be even. Choose --d-model / --heads even.");
    }
    if (!(ropeTheta > 0) || !(rmsEps > 0)) throw new WeftInputException("rope_theta and rms_norm_eps must be positive.");
  }

  private static void positive(String what, int v) {
    if (v <= 0) throw new WeftInputException(what + " must be positive, got " + v + ".");
  }

  /** A config whose head width is C / heads (C must divide). */
  public static LlamaConfig of(int layers, int dModel, int heads, int kvHeads, int ffn, int context, int vocab,
                               double ropeTheta, double rmsEps, boolean tied) {
    if (heads <= 0 || dModel % heads != 0) {
      throw new WeftInputException("--d-model " + dModel + " is not divisible by --heads " + heads + ": every head must "
          + "get the same width. Choose heads that divide d-model.");
    }
    return new LlamaConfig(layers, dModel, heads, kvHeads, dModel / heads, ffn, context, vocab, ropeTheta, rmsEps, tied);
  }

  /** The model specification of this shape. */
  public ModelSpec spec() {
    return LlamaFamily.INSTANCE.spec(this);
  }

  /**
   * Presets: {@code llama-micro} and {@code llama-mini} to train from scratch on bytes (grouped-query
   * attention 2:1 and 3:1, MLP 8/3 C as Llama's), and the real Llama 3 shapes for planning
   * (Dubey et al. 2024, Table 3: 8B, 70B, 405B; vocabulary 128256, rope_theta 500000, context 8192).
   */
  public static LlamaConfig preset(String name) {
    return switch (name) {
      case "llama-micro" -> of(4, 128, 4, 2, 352, 128, 256, 10000, 1e-5, false);
      case "llama-mini" -> of(6, 384, 6, 2, 1024, 256, 256, 10000, 1e-5, false);
      case "llama3-8b" -> of(32, 4096, 32, 8, 14336, 8192, 128256, 500000, 1e-5, false);
      case "llama3-70b" -> of(80, 8192, 64, 8, 28672, 8192, 128256, 500000, 1e-5, false);
      case "llama3-405b" -> of(126, 16384, 128, 8, 53248, 8192, 128256, 500000, 1e-5, false);
      default -> throw new IllegalArgumentException("no Llama preset " + name);
    };
  }
}
