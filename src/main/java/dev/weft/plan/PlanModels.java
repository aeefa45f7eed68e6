package dev.weft.plan;

import dev.weft.WeftInputException;
import dev.weft.models.gpt2.GPT2Config;
import java.util.Locale;

/**
 * Model presets for planning, as {@link ModelShape}s: Weft's own GPT-2 presets (nano, micro, mini, small;
 * {@link GPT2Config#preset}), {@code gpt2-xl} (Radford et al. 2019: 48 layers, 1600 wide, 25 heads, 1024
 * context, 50257 vocab), the GPT shapes of Narayanan et al. 2021, Table 1 (vocab 51200, sequence 2048):
 * {@code 1.7b} (24 layers, h 2304, 24 heads), {@code 175b} (96, 12288, 96; GPT-3), {@code 530b} (105, 20480,
 * 128; MT-NLG), {@code 1t} (128, 25600, 160); and Llama 3 (Dubey et al. 2024, Table 3: layers, model dimension,
 * FFN dimension, attention heads, key/value heads; vocabulary 128K, the Hugging Face configs' 128256; sequence
 * 8192): {@code llama3-8b} (32, 4096, 14336, 32, 8), {@code llama3-70b} (80, 8192, 28672, 64, 8),
 * {@code llama3-405b} (126, 16384, 53248, 128, 8).
 */
public final class PlanModels {
  private PlanModels() {
  }

  public static final String NAMES = "nano, micro, mini, small, gpt2-xl, 1.7b, 175b, 530b, 1t, llama3-8b, llama3-70b, "
      + "llama3-405b";
  static final int LLAMA3_VOCAB = 128256;

  public static ModelShape preset(String name) {
    String k = name.toLowerCase(Locale.ROOT);
    return switch (k) {
      case "gpt2-xl" -> gpt("gpt2-xl", 48, 1600, 25, 1024, 50257);
      case "1.7b" -> gpt(k, 24, 2304, 24, 2048, 51200);
      case "175b" -> gpt(k, 96, 12288, 96, 2048, 51200);
      case "530b" -> gpt(k, 105, 20480, 128, 2048, 51200);
      case "1t" -> gpt(k, 128, 25600, 160, 2048, 51200);
      case "llama3-8b" -> ModelShape.llama(k, 32, 4096, 32, 8, 14336, LLAMA3_VOCAB, 8192);
      case "llama3-70b" -> ModelShape.llama(k, 80, 8192, 64, 8, 28672, LLAMA3_VOCAB, 8192);
      case "llama3-405b" -> ModelShape.llama(k, 126, 16384, 128, 8, 53248, LLAMA3_VOCAB, 8192);
      case "nano", "micro", "mini", "small" -> named(k, ModelShape.of(GPT2Config.preset(k)));
      default -> throw new WeftInputException("unknown model preset '" + name + "'. Presets: " + NAMES
          + " (or give --layers, --d-model, --heads, --context, --vocab).");
    };
  }

  /** A GPT-2 preset's {@link GPT2Config} (for Weft's runtime); Llama presets are refused with the reason. */
  public static GPT2Config gpt2(String name) {
    return preset(name).toGpt2();
  }

  static ModelShape gpt(String name, int layers, int h, int heads, int seq, int vocab) {
    return named(name, ModelShape.of(new GPT2Config(layers, h, heads, seq, vocab)));
  }

  private static ModelShape named(String name, ModelShape s) {
    return new ModelShape(name, s.layers(), s.hidden(), s.heads(), s.kvHeads(), s.ffn(), s.gated(), s.vocab(), s.seq(),
        s.tiedEmbeddings(), s.learnedPositions(), s.biases(), s.dropout());
  }
}
