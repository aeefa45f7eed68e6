package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.model.GPT2Config;
import picocli.CommandLine.Option;

/** The model-shape options shared by commands: a preset, and per-field overrides. */
public final class ModelOptions {
  @Option(names = "--model", paramLabel = "PRESET", description = "Model preset: nano, micro, mini, small (default micro).")
  String preset;

  @Option(names = "--layers", description = "Transformer blocks (n_layer).")
  Integer layers;

  @Option(names = "--d-model", description = "Width C (n_embd).")
  Integer dModel;

  @Option(names = "--heads", description = "Attention heads (n_head); must divide --d-model.")
  Integer heads;

  @Option(names = "--context", description = "Context length T (n_positions); sequences are this long.")
  Integer context;

  @Option(names = "--vocab", description = "Vocabulary size V (256 = bytes).")
  Integer vocab;

  boolean anyGiven() {
    return preset != null || layers != null || dModel != null || heads != null || context != null || vocab != null;
  }

  /** The preset (micro when none) with the given fields overriding it. */
  GPT2Config resolve() {
    GPT2Config base = GPT2Config.preset(preset == null ? "micro" : preset);
    return new GPT2Config(
        layers != null ? layers : base.layers(),
        dModel != null ? dModel : base.dModel(),
        heads != null ? heads : base.heads(),
        context != null ? context : base.context(),
        vocab != null ? vocab : base.vocab());
  }

  /** With a checkpoint the shape comes from its config.json; explicit options must agree with it. */
  void checkAgrees(GPT2Config fromCheckpoint, String where) {
    if (preset != null) {
      GPT2Config p = GPT2Config.preset(preset);
      if (!p.equals(fromCheckpoint)) {
        throw new WeftInputException("--model " + preset + " (" + p + ") does not match the checkpoint " + where
            + " (" + fromCheckpoint + "); drop --model to use the checkpoint's shape.");
      }
    }
    check("--layers", layers, fromCheckpoint.layers(), where);
    check("--d-model", dModel, fromCheckpoint.dModel(), where);
    check("--heads", heads, fromCheckpoint.heads(), where);
    check("--context", context, fromCheckpoint.context(), where);
    check("--vocab", vocab, fromCheckpoint.vocab(), where);
  }

  private static void check(String option, Integer given, int actual, String where) {
    if (given != null && given != actual) {
      throw new WeftInputException(option + " " + given + " does not match the checkpoint " + where + ", which has "
          + actual + "; drop " + option + " to use the checkpoint's shape.");
    }
  }
}
