package dev.weft.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * A model family (GPT-2, Llama, ...): everything Weft needs to know about it, in one package. It turns its
 * configuration (Hugging Face {@code config.json}, presets, command-line shape overrides) into a
 * {@link ModelSpec} that the parallel core reads, and maps its Hugging Face checkpoints' tensor names onto
 * the spec's parameters. Parameters are stored as the family's checkpoints store them (names, shapes and
 * [in, out] or [out, in] layout), so loading and saving a checkpoint is a matter of names.
 */
public interface ModelFamily {
  /** Short name used on the command line and in files ("gpt2", "llama"). */
  String name();

  /** Name for people ("GPT-2", "Llama"). */
  String displayName();

  /** The Hugging Face {@code model_type} values whose config.json this family reads. */
  Set<String> modelTypes();

  /** The presets this family offers (unique across families). */
  List<String> presets();

  /** A preset with shape overrides applied. */
  ModelSpec preset(String name, ModelShape overrides);

  /** {@code base} (a model of this family) with shape overrides applied. */
  ModelSpec apply(ModelSpec base, ModelShape overrides);

  /** The same model with sequences of {@code context} positions. */
  default ModelSpec withContext(ModelSpec spec, int context) {
    return apply(spec, ModelShape.NONE.withContext(context));
  }

  /**
   * The model of a config.json (already parsed; {@code file} names it in messages). Fields Weft does not
   * support (other activations, biases, rope scaling, ...) are refused by name.
   */
  ModelSpec readConfig(Path file, JsonNode root);

  /** The config.json of a model of this family; {@code torchDtype} "float32" or "bfloat16". */
  ObjectNode writeConfig(ModelSpec spec, String torchDtype);

  /**
   * The parameter a tensor stored under {@code stored} in a checkpoint is (aliases such as a
   * "transformer." prefix resolved), or null for tensors that are not parameters (attention-mask buffers,
   * the tied head's duplicate).
   */
  String canonicalName(ModelSpec spec, String stored);

  /**
   * Checks the tensor names of a checkpoint against the spec beyond "every parameter is there": e.g. a tied
   * flag that contradicts an {@code lm_head.weight} present or missing. Bad input named with {@code file}.
   */
  default void checkTensorNames(ModelSpec spec, Path file, Set<String> stored) {}

  /** A one-line description of the shape, e.g. "GPT-2 L=12 C=768 heads=12 T=1024 V=50257". */
  String describe(ModelSpec spec);
}
