package dev.weft.models.gpt2;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;

/**
 * The shape of a GPT-2 model, as its config.json says it: layers L ({@code n_layer}), width C
 * ({@code n_embd}), heads NH ({@code n_head}), context T ({@code n_positions}) and vocabulary V
 * ({@code vocab_size}). Parameter count: {@code V C + T C + L (12 C^2 + 13 C) + 2 C}. {@link #spec()} is
 * the model the parallel core reads.
 */
public record GPT2Config(int layers, int dModel, int heads, int context, int vocab) {

  public GPT2Config {
    if (layers <= 0) throw new WeftInputException("--layers must be positive, got " + layers + ".");
    if (dModel <= 0) throw new WeftInputException("--d-model must be positive, got " + dModel + ".");
    if (heads <= 0) throw new WeftInputException("--heads must be positive, got " + heads + ".");
    if (dModel % heads != 0) {
      throw new WeftInputException("--d-model " + dModel + " is not divisible by --heads " + heads
          + ": every head must get the same width. Choose heads that divide d-model (e.g. "
          + suggestHeads(dModel) + ").");
    }
    if (context <= 0) throw new WeftInputException("--context must be positive, got " + context + ".");
    if (vocab <= 0) throw new WeftInputException("--vocab must be positive, got " + vocab + ".");
  }

  public int headSize() {
    return dModel / heads;
  }

  /** Total number of parameters (the output projection is tied to wte and not counted twice). */
  public long parameterCount() {
    long c = dModel;
    return (long) vocab * c + (long) context * c + (long) layers * (12 * c * c + 13 * c) + 2 * c;
  }

  /** The model specification of this shape. */
  public ModelSpec spec() {
    return Gpt2Family.INSTANCE.spec(this);
  }

  /** The presets of the foundation issue; vocabulary 256 (bytes) unless the preset fixes it. */
  public static GPT2Config preset(String name) {
    return switch (name) {
      case "nano" -> new GPT2Config(2, 64, 4, 64, 256);
      case "micro" -> new GPT2Config(4, 128, 4, 128, 256);
      case "mini" -> new GPT2Config(6, 384, 6, 256, 256);
      case "small" -> new GPT2Config(12, 768, 12, 1024, 50257);
      case "gpt2-xl" -> new GPT2Config(48, 1600, 25, 1024, 50257);
      default -> throw new IllegalArgumentException("no GPT-2 preset " + name);
    };
  }

  static String suggestHeads(int c) {
    StringBuilder sb = new StringBuilder();
    for (int h = 1; h <= Math.min(c, 32); h++) {
      if (c % h == 0) {
        if (sb.length() > 0) sb.append(", ");
        sb.append(h);
      }
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return "GPT-2 L=" + layers + " C=" + dModel + " heads=" + heads + " T=" + context + " V=" + vocab
        + " (" + String.format(java.util.Locale.ROOT, "%.2fM", parameterCount() / 1e6) + " parameters)";
  }
}
