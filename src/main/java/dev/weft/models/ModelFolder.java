package dev.weft.models;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.WeftInputException;
import dev.weft.io.AtomicFiles;
import dev.weft.model.ModelFamily;
import dev.weft.model.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model folder as Hugging Face lays it out, for any family:
 *
 * <pre>
 *   DIR/config.json         {"model_type": "gpt2" | "llama", ...the family's fields}
 *   DIR/model.safetensors   the parameters under the family's names
 * </pre>
 *
 * Reads config.json into the {@link ModelSpec} of the family its {@code model_type} names (a config without
 * model_type is read as GPT-2, as older GPT-2 folders are), writes a spec's config.json, and finds the
 * weights file. A folder written here loads in transformers with {@code AutoModelForCausalLM.from_pretrained},
 * and a folder downloaded from the Hub loads here.
 */
public final class ModelFolder {
  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ModelFolder() {}

  /** Reads {@code DIR/config.json}; given a file (e.g. a .safetensors), reads the config.json beside it. */
  public static ModelSpec readConfig(Path dirOrFile) {
    Path dir = Files.isRegularFile(dirOrFile) ? dirOrFile.toAbsolutePath().getParent() : dirOrFile;
    Path file = dir.resolve(CONFIG);
    if (!Files.isDirectory(dir)) {
      throw new WeftInputException(dirOrFile + " does not exist. Give a model folder that holds " + CONFIG
          + " and " + WEIGHTS + " (as Hugging Face lays out its models).");
    }
    if (!Files.isRegularFile(file)) {
      throw new WeftInputException(dir + " has no " + CONFIG + ". A model folder needs " + CONFIG + " (the model's "
          + "shape) beside " + WEIGHTS + "; copy the config.json that came with the weights into it.");
    }
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      throw new WeftInputException(file + " is not valid JSON (" + e.getOriginalMessage() + "). Fix or "
          + "re-download it.", e);
    } catch (IOException e) {
      throw new WeftInputException("Could not read " + file + ": " + AtomicFiles.describe(e) + ".", e);
    }
    if (root == null || !root.isObject()) {
      throw new WeftInputException(file + " is not a JSON object. A config.json looks like {\"model_type\": "
          + "\"gpt2\", \"n_layer\": 12, ...}; fix or re-download it.");
    }
    JsonNode type = root.get("model_type");
    String modelType = type == null || type.isNull() ? "gpt2" : type.asText();
    ModelFamily family = Families.byModelType(modelType);
    if (family == null) {
      throw new WeftInputException(file + " describes a '" + modelType + "' model; Weft trains " + Families.modelTypeNames()
          + " models (model_type). Use a checkpoint of one of those families.");
    }
    return family.readConfig(file, root);
  }

  /** Writes {@code DIR/config.json} for {@code spec}, atomically; {@code torchDtype} "float32" or "bfloat16". */
  public static void writeConfig(Path dir, ModelSpec spec, String torchDtype) {
    ObjectNode o = spec.family().writeConfig(spec, torchDtype);
    try {
      AtomicFiles.writeString(dir.resolve(CONFIG), JSON.writeValueAsString(o) + "\n");
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e); // an in-memory tree always serialises
    }
  }

  public static void writeConfig(Path dir, ModelSpec spec) {
    writeConfig(dir, spec, "float32");
  }

  /** A folder -> its model.safetensors; a .safetensors file -> itself. */
  public static Path resolveWeights(Path dirOrFile) {
    if (Files.isDirectory(dirOrFile)) {
      Path w = dirOrFile.resolve(WEIGHTS);
      if (Files.isRegularFile(w)) return w;
      String hint;
      if (Files.exists(dirOrFile.resolve("model.safetensors.index.json"))) {
        hint = "It holds sharded weights (model.safetensors.index.json), which Weft does not read; re-save the "
            + "model unsharded (save_pretrained(dir, max_shard_size=\"10GB\")).";
      } else if (Files.exists(dirOrFile.resolve("pytorch_model.bin"))) {
        hint = "It holds pytorch_model.bin, a pickle Weft does not read; convert it with transformers: "
            + "AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True).";
      } else {
        hint = "Give a folder with " + CONFIG + " and " + WEIGHTS + ", or the path of a .safetensors file.";
      }
      throw new WeftInputException(dirOrFile + " has no " + WEIGHTS + ". " + hint);
    }
    if (!Files.exists(dirOrFile)) {
      throw new WeftInputException(dirOrFile + " does not exist. Give a model folder (with " + CONFIG + " and "
          + WEIGHTS + ") or a .safetensors file.");
    }
    if (!dirOrFile.getFileName().toString().endsWith(".safetensors")) {
      throw new WeftInputException(dirOrFile + " is neither a model folder nor a .safetensors file. Give a "
          + "folder with " + CONFIG + " and " + WEIGHTS + ", or a .safetensors file.");
    }
    return dirOrFile;
  }
}
