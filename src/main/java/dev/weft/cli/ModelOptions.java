package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.model.ModelShape;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import picocli.CommandLine.Option;

/** The model options shared by commands: a preset (which names the family), and per-field overrides. */
public final class ModelOptions {
  @Option(names = "--model", paramLabel = "PRESET", description = "Model preset: nano, micro, mini, small, gpt2-xl "
      + "(GPT-2); llama-micro, llama-mini, llama3-8b, llama3-70b, llama3-405b (Llama) (default micro).")
  String preset;

  @Option(names = "--layers", description = "Transformer blocks (n_layer / num_hidden_layers).")
  Integer layers;

  @Option(names = "--d-model", description = "Width C (n_embd / hidden_size).")
  Integer dModel;

  @Option(names = "--heads", description = "Attention heads; must divide --d-model.")
  Integer heads;

  @Option(names = "--kv-heads", description = "Key/value heads (Llama: grouped-query attention; must divide --heads).")
  Integer kvHeads;

  @Option(names = "--ffn", description = "MLP width F (Llama's intermediate_size; GPT-2's is 4 x d-model).")
  Integer ffn;

  @Option(names = "--context", description = "Context length T (positions); sequences are this long.")
  Integer context;

  @Option(names = "--vocab", description = "Vocabulary size V (256 = bytes).")
  Integer vocab;

  boolean anyGiven() {
    return preset != null || shape().any();
  }

  ModelShape shape() {
    return new ModelShape(layers, dModel, heads, kvHeads, ffn, context, vocab);
  }

  /** The preset (micro when none) with the given fields overriding it. */
  ModelSpec resolve() {
    return Families.preset(preset == null ? "micro" : preset, shape());
  }

  /** With a checkpoint the shape comes from its config.json; explicit options must agree with it. */
  void checkAgrees(ModelSpec fromCheckpoint, String where) {
    if (preset != null) {
      ModelSpec p = Families.preset(preset);
      if (!p.equals(fromCheckpoint)) {
        throw new WeftInputException("--model " + preset + " (" + p + ") does not match the checkpoint " + where
            + " (" + fromCheckpoint + "); drop --model to use the checkpoint's shape.");
      }
    }
    check("--layers", layers, fromCheckpoint.layers(), where);
    check("--d-model", dModel, fromCheckpoint.dModel(), where);
    check("--heads", heads, fromCheckpoint.heads(), where);
    check("--kv-heads", kvHeads, fromCheckpoint.kvHeads(), where);
    check("--ffn", ffn, fromCheckpoint.ffn(), where);
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
