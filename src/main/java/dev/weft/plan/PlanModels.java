package dev.weft.plan;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import java.util.Locale;

/**
 * Model presets for planning: Weft's own (nano, micro, mini, small; {@link ModelSpec#preset}),
 * {@code gpt2-xl} (Radford et al. 2019: 48 layers, 1600 wide, 25 heads, 1024 context, 50257 vocab), and
 * the GPT shapes of Narayanan et al. 2021, Table 1 (vocab 51200, sequence 2048):
 * {@code 1.7b} (24 layers, h 2304, 24 heads), {@code 175b} (96, 12288, 96; GPT-3), {@code 530b}
 * (105, 20480, 128; MT-NLG), {@code 1t} (128, 25600, 160).
 */
public final class PlanModels {
  private PlanModels() {
  }

  public static final String NAMES = "nano, micro, mini, small, gpt2-xl, 1.7b, 175b, 530b, 1t";

  public static ModelSpec preset(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "gpt2-xl" -> new GPT2Config(48, 1600, 25, 1024, 50257).spec();
      case "1.7b" -> new GPT2Config(24, 2304, 24, 2048, 51200).spec();
      case "175b" -> new GPT2Config(96, 12288, 96, 2048, 51200).spec();
      case "530b" -> new GPT2Config(105, 20480, 128, 2048, 51200).spec();
      case "1t" -> new GPT2Config(128, 25600, 160, 2048, 51200).spec();
      case "nano", "micro", "mini", "small" -> Families.preset(name.toLowerCase(Locale.ROOT));
      default -> throw new WeftInputException("unknown model preset '" + name + "'. Presets: " + NAMES
          + " (or give --layers, --d-model, --heads, --context, --vocab).");
    };
  }
}
