package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * Activation recomputation (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large
 * Transformer Models", section 5): NONE keeps every activation; SELECTIVE drops the attention
 * scores/softmax/dropout (the 5as/h term) and recomputes them; FULL keeps only each layer's input and
 * recomputes the whole layer forward during backward.
 */
public enum Recompute {
  NONE, SELECTIVE, FULL;

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Recompute parse(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "none", "off" -> NONE;
      case "selective" -> SELECTIVE;
      case "full" -> FULL;
      default -> throw new WeftInputException("unknown --recompute '" + s + "'. Use none, selective or full.");
    };
  }
}
