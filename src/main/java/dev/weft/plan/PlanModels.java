package dev.weft.plan;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * The models the planner knows, as {@link ModelDims}s, from one source each: every preset of every model
 * family ({@link Families}: what {@code weft train --model} accepts, GPT-2's nano to gpt2-xl, Llama's
 * llama-micro to llama3-405b with the Llama 3 shapes of Dubey et al. 2024, Table 3), plus the published GPT
 * shapes that exist only for planning, those of Narayanan et al. 2021, Table 1 (vocab 51200, sequence 2048):
 * {@code 1.7b} (24 layers, h 2304, 24 heads), {@code 175b} (96, 12288, 96; GPT-3), {@code 530b} (105, 20480,
 * 128; MT-NLG), {@code 1t} (128, 25600, 160).
 */
public final class PlanModels {
  private PlanModels() {
  }

  /** The planning-only presets (published GPT shapes no family trains); every family preset comes first. */
  static final List<String> PUBLISHED = List.of("1.7b", "175b", "530b", "1t");

  /** Every preset name the planner accepts: the families' presets, then the published shapes. */
  public static List<String> names() {
    List<String> all = new ArrayList<>(Families.presetNames());
    all.addAll(PUBLISHED);
    return all;
  }

  /** The preset names for messages, comma-separated. */
  public static String namesText() {
    return String.join(", ", names());
  }

  /** For picocli: {@code completionCandidates = PlanModels.Names.class} lists the presets in --help. */
  public static final class Names implements Iterable<String> {
    @Override
    public Iterator<String> iterator() {
      return names().iterator();
    }
  }

  public static ModelDims preset(String name) {
    String k = name.toLowerCase(Locale.ROOT);
    if (Families.presetNames().contains(k)) return of(k, Families.preset(k));
    return switch (k) {
      case "1.7b" -> gpt(k, 24, 2304, 24, 2048, 51200);
      case "175b" -> gpt(k, 96, 12288, 96, 2048, 51200);
      case "530b" -> gpt(k, 105, 20480, 128, 2048, 51200);
      case "1t" -> gpt(k, 128, 25600, 160, 2048, 51200);
      default -> throw new WeftInputException("unknown model preset '" + name + "'. Presets: " + namesText()
          + " (or give --layers, --d-model, --heads, --context, --vocab).");
    };
  }

  /** A GPT-2 preset's {@link GPT2Config} (for Weft's runtime); Llama presets are refused with the reason. */
  public static GPT2Config gpt2(String name) {
    return preset(name).toGpt2();
  }

  static ModelDims gpt(String name, int layers, int h, int heads, int seq, int vocab) {
    return named(name, ModelDims.of(new GPT2Config(layers, h, heads, seq, vocab)));
  }

  /** The planner's shape of a family's model, under {@code name}. */
  static ModelDims of(String name, ModelSpec spec) {
    return named(name, ModelDims.of(spec));
  }

  private static ModelDims named(String name, ModelDims s) {
    return new ModelDims(name, s.layers(), s.hidden(), s.heads(), s.kvHeads(), s.ffn(), s.gated(), s.vocab(), s.seq(),
        s.tiedEmbeddings(), s.learnedPositions(), s.biases(), s.dropout());
  }
}
