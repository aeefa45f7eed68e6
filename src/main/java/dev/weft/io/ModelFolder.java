package dev.weft.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.WeftInputException;
import dev.weft.model.GPT2Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * A GPT-2 model folder as Hugging Face lays it out:
 *
 * <pre>
 *   DIR/config.json         {"model_type": "gpt2", "n_layer": 12, "n_embd": 768, "n_head": 12,
 *                            "n_positions": 1024, "vocab_size": 50257, ...}
 *   DIR/model.safetensors   the parameters, named wte.weight, wpe.weight, h.0.ln_1.weight, ...
 * </pre>
 *
 * Reads and writes config.json, finds the weights file, and maps Hugging Face parameter names to Weft's
 * ({@link #canonicalName}). A folder written here loads in transformers with
 * {@code GPT2LMHeadModel.from_pretrained(DIR)}, and a folder downloaded from the Hub loads here.
 */
public final class ModelFolder {
  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  /** Attention-mask buffers of older transformers versions: not parameters. */
  private static final Pattern MASK_BUFFER = Pattern.compile("h\\.\\d+\\.attn\\.(bias|masked_bias)");

  private ModelFolder() {}

  /** Reads {@code DIR/config.json}; given a file (e.g. a .safetensors), reads the config.json beside it. */
  public static GPT2Config readConfig(Path dirOrFile) {
    Path dir = Files.isRegularFile(dirOrFile) ? dirOrFile.toAbsolutePath().getParent() : dirOrFile;
    Path file = dir.resolve(CONFIG);
    if (!Files.isDirectory(dir)) {
      throw new WeftInputException(dirOrFile + " does not exist. Give a model folder that holds " + CONFIG
          + " and " + WEIGHTS + " (as Hugging Face lays out GPT-2).");
    }
    if (!Files.isRegularFile(file)) {
      throw new WeftInputException(dir + " has no " + CONFIG + ". A model folder needs " + CONFIG + " (with "
          + "n_layer, n_embd, n_head, n_positions, vocab_size) beside " + WEIGHTS + "; copy the config.json that "
          + "came with the weights into it.");
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
      throw new WeftInputException(file + " is not a JSON object. A GPT-2 config.json looks like "
          + "{\"n_layer\": 12, \"n_embd\": 768, ...}; fix or re-download it.");
    }
    JsonNode type = root.get("model_type");
    if (type != null && !"gpt2".equals(type.asText())) {
      throw new WeftInputException(file + " describes a '" + type.asText() + "' model; Weft trains GPT-2 "
          + "(model_type \"gpt2\") only. Use a GPT-2 checkpoint.");
    }
    int layers = positive(file, root, "n_layer");
    int dModel = positive(file, root, "n_embd");
    int heads = positive(file, root, "n_head");
    int context = root.has("n_positions") ? positive(file, root, "n_positions") : positive(file, root, "n_ctx");
    int vocab = positive(file, root, "vocab_size");
    if (dModel % heads != 0) {
      throw new WeftInputException(file + " has n_embd " + dModel + " not divisible by n_head " + heads
          + ": every head must get the same width. Fix the config.");
    }
    return new GPT2Config(layers, dModel, heads, context, vocab);
  }

  private static int positive(Path file, JsonNode root, String field) {
    JsonNode v = root.get(field);
    if (v == null || v.isNull()) {
      String alt = field.equals("n_ctx") ? "n_positions (or n_ctx)" : field;
      throw new WeftInputException(file + " has no \"" + alt + "\" field. A GPT-2 config.json needs n_layer, "
          + "n_embd, n_head, n_positions and vocab_size; add the missing one.");
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() <= 0) {
      throw new WeftInputException(file + " has \"" + field + "\": " + v + ", which is not a positive "
          + "integer. Fix the field.");
    }
    return v.intValue();
  }

  /**
   * Writes {@code DIR/config.json} for {@code c}, atomically, with the fields transformers' GPT2Config
   * reads. Dropout is 0: Weft trains without it. bos/eos are the last token id (50256 for the GPT-2 BPE).
   */
  public static void writeConfig(Path dir, GPT2Config c) {
    ObjectNode o = JSON.createObjectNode();
    o.put("model_type", "gpt2");
    o.putArray("architectures").add("GPT2LMHeadModel");
    o.put("activation_function", "gelu_new");
    o.put("n_layer", c.layers());
    o.put("n_embd", c.dModel());
    o.put("n_head", c.heads());
    o.put("n_ctx", c.context());
    o.put("n_positions", c.context());
    o.put("vocab_size", c.vocab());
    o.putNull("n_inner"); // transformers: null means 4 * n_embd
    o.put("layer_norm_epsilon", 1e-5);
    o.put("initializer_range", 0.02);
    o.put("attn_pdrop", 0.0);
    o.put("embd_pdrop", 0.0);
    o.put("resid_pdrop", 0.0);
    o.put("scale_attn_weights", true);
    o.put("scale_attn_by_inverse_layer_idx", false);
    o.put("reorder_and_upcast_attn", false);
    o.put("tie_word_embeddings", true);
    o.put("bos_token_id", c.vocab() - 1);
    o.put("eos_token_id", c.vocab() - 1);
    o.put("use_cache", true);
    o.put("torch_dtype", "float32");
    try {
      AtomicFiles.writeString(dir.resolve(CONFIG), JSON.writeValueAsString(o) + "\n");
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e); // an in-memory tree always serialises
    }
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
            + "GPT2LMHeadModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True).";
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

  /**
   * Weft's name for a parameter found in a Hugging Face file, or null for entries that are not
   * parameters: strips the {@code transformer.} prefix of GPT2LMHeadModel; skips {@code lm_head.weight}
   * (tied to wte) and the attention-mask buffers {@code h.N.attn.bias} / {@code h.N.attn.masked_bias}.
   */
  public static String canonicalName(String name) {
    String n = name.startsWith("transformer.") ? name.substring("transformer.".length()) : name;
    if (n.equals("lm_head.weight") || MASK_BUFFER.matcher(n).matches()) return null;
    return n;
  }
}
