package dev.weft.models;

import dev.weft.WeftInputException;
import dev.weft.model.ModelFamily;
import dev.weft.model.ModelShape;
import dev.weft.model.ModelSpec;
import dev.weft.models.gpt2.Gpt2Family;
import dev.weft.models.llama.LlamaFamily;
import java.util.ArrayList;
import java.util.List;

/**
 * The model families Weft knows, and the lookups over them: a preset name (unique across families) or a
 * config.json's {@code model_type} to its family. Adding a family is adding its package and one line here.
 */
public final class Families {
  private Families() {}

  /** Every family, in the order presets are listed. */
  public static List<ModelFamily> all() {
    return List.of(Gpt2Family.INSTANCE, LlamaFamily.INSTANCE);
  }

  /** Every preset name, family by family. */
  public static List<String> presetNames() {
    List<String> names = new ArrayList<>();
    for (ModelFamily f : all()) names.addAll(f.presets());
    return names;
  }

  /** The model of a preset with shape overrides applied. */
  public static ModelSpec preset(String name, ModelShape overrides) {
    for (ModelFamily f : all()) {
      if (f.presets().contains(name)) return f.preset(name, overrides);
    }
    throw new WeftInputException("unknown model preset '" + name + "'. Presets: " + String.join(", ", presetNames())
        + " (or give --layers, --d-model, --heads, --context, --vocab).");
  }

  public static ModelSpec preset(String name) {
    return preset(name, ModelShape.NONE);
  }

  /** The family reading config.json files of this {@code model_type}, or null. */
  public static ModelFamily byModelType(String modelType) {
    for (ModelFamily f : all()) if (f.modelTypes().contains(modelType)) return f;
    return null;
  }

  /** The family named {@code name} on the command line ("gpt2", "llama"). */
  public static ModelFamily byName(String name) {
    for (ModelFamily f : all()) if (f.name().equals(name)) return f;
    List<String> names = new ArrayList<>();
    for (ModelFamily f : all()) names.add(f.name());
    throw new WeftInputException("unknown model family '" + name + "'. Families: " + String.join(", ", names) + ".");
  }

  /** Model types of every family, for messages. */
  public static String modelTypeNames() {
    List<String> t = new ArrayList<>();
    for (ModelFamily f : all()) t.addAll(f.modelTypes());
    return String.join(", ", t);
  }
}
