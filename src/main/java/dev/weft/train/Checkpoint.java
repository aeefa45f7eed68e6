package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.data.Gpt2Tokenizer;
import dev.weft.io.SafeTensorsFile;
import dev.weft.io.SafeTensorsWriter;
import dev.weft.decoder.Decoder;
import dev.weft.model.ModelSpec;
import dev.weft.models.ModelFolder;
import dev.weft.model.ParameterLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Training checkpoints: a Hugging Face style model folder ({@code config.json},
 * {@code model.safetensors} with the HF parameter names) plus {@code optimizer.safetensors} (AdamW moments
 * as {@code exp_avg.NAME} / {@code exp_avg_sq.NAME}, and the step in the metadata) and
 * {@code training_state.json}, and the GPT-2 tokenizer files ({@code vocab.json}, {@code merges.txt}) of the
 * model the run started from, when it had them. The folder is written under a temporary name beside the target and renamed
 * into place, so an interrupted save never leaves a half-written checkpoint.
 */
public final class Checkpoint {
  static final String WEIGHTS = "model.safetensors";
  static final String OPTIMIZER = "optimizer.safetensors";

  private Checkpoint() {}

  /** The model shape of a model folder, or of the folder that holds a .safetensors file. */
  public static ModelSpec readConfig(Path dirOrFile) {
    if (!Files.exists(dirOrFile)) {
      throw new WeftInputException("checkpoint " + dirOrFile + " does not exist; give a model folder "
          + "(config.json + model.safetensors) or a folder saved by 'weft train --save'.");
    }
    Path dir = Files.isDirectory(dirOrFile) ? dirOrFile : dirOrFile.toAbsolutePath().getParent();
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      throw new WeftInputException("no config.json in " + dir + ": Weft needs it to know the model's shape. "
          + "Give the Hugging Face model folder (config.json + model.safetensors).");
    }
    return ModelFolder.readConfig(dir);
  }

  /** Full optimizer state as saved: the two AdamW moments laid out like the flat parameters, and the step. */
  public record OptimizerState(float[] m, float[] v, int step) {}

  /**
   * Saves a training checkpoint from full (layout-independent) arrays: whatever the device layout, the
   * files hold every tensor whole under its Hugging Face name, so they load under any other layout.
   */
  public static void save(Path dir, ParameterLayout layout, float[] params, OptimizerState opt, TrainingState state) {
    save(dir, layout, params, opt, state, null);
  }

  /** As above, also copying vocab.json and merges.txt from {@code tokenizerFrom}'s folder when it has them. */
  public static void save(Path dir, ParameterLayout layout, float[] params, OptimizerState opt, TrainingState state,
                          Path tokenizerFrom) {
    Path abs = dir.toAbsolutePath();
    Path parent = abs.getParent();
    Path tmp = parent.resolve("." + abs.getFileName() + ".tmp-" + UUID.randomUUID());
    try {
      Files.createDirectories(parent);
      Files.createDirectories(tmp);
      writeModel(tmp, layout, params);
      SafeTensorsWriter w = new SafeTensorsWriter();
      for (ParameterLayout.Param p : layout.params()) {
        w.add("exp_avg." + p.name(), slice(opt.m(), p), p.shape());
        w.add("exp_avg_sq." + p.name(), slice(opt.v(), p), p.shape());
      }
      w.metadata("step", Integer.toString(opt.step()));
      w.write(tmp.resolve(OPTIMIZER));
      state.write(tmp);
      if (tokenizerFrom != null) Gpt2Tokenizer.copyFiles(tokenizerFrom, tmp);
      replaceDirectory(tmp, abs);
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new WeftInputException("cannot save the checkpoint to " + dir + ": " + e.getMessage()
          + ". Check that the folder is writable and the disk has room.");
    } catch (RuntimeException e) {
      deleteQuietly(tmp);
      throw e;
    }
  }

  /** Writes config.json and model.safetensors for the flat parameters {@code params} into {@code dir}. */
  public static void writeModel(Path dir, ParameterLayout layout, float[] params) {
    ModelFolder.writeConfig(dir, layout.spec());
    SafeTensorsWriter w = new SafeTensorsWriter();
    for (ParameterLayout.Param p : layout.params()) w.add(p.name(), slice(params, p), p.shape());
    w.metadata("format", "pt");
    w.write(dir.resolve(WEIGHTS));
  }

  /** Reads the AdamW moments and step of a training checkpoint. */
  public static OptimizerState readOptimizer(Path dir, ParameterLayout layout) {
    Path f = dir.resolve(OPTIMIZER);
    if (!Files.isRegularFile(f)) {
      throw new WeftInputException(dir + " has no " + OPTIMIZER + "; the checkpoint is incomplete. "
          + "Resume from a complete one, or start from its weights with --checkpoint.");
    }
    float[] m = new float[layout.total()];
    float[] v = new float[layout.total()];
    try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
      for (ParameterLayout.Param p : layout.params()) {
        copyInto(st, "exp_avg." + p.name(), p, m);
        copyInto(st, "exp_avg_sq." + p.name(), p, v);
      }
      String step = st.metadata().get("step");
      int t;
      try {
        t = step == null ? -1 : Integer.parseInt(step);
      } catch (NumberFormatException e) {
        t = -1;
      }
      if (t < 0) {
        throw new WeftInputException(f + " has no valid 'step' in its metadata; the checkpoint is damaged.");
      }
      return new OptimizerState(m, v, t);
    }
  }

  /** Reads the weights of a model folder (or .safetensors file) for {@code layout}, checking every shape. */
  public static float[] readWeights(Path dirOrFile, ParameterLayout layout) {
    Path f = ModelFolder.resolveWeights(dirOrFile);
    float[] params = new float[layout.total()];
    try (SafeTensorsFile st = SafeTensorsFile.open(f)) {
      ModelSpec spec = layout.spec();
      spec.family().checkTensorNames(spec, f, new java.util.HashSet<>(st.names()));
      java.util.Map<String, String> canonical = new java.util.HashMap<>();
      for (String n : st.names()) {
        String c = spec.family().canonicalName(spec, n);
        if (c != null) canonical.put(c, n);
      }
      for (ParameterLayout.Param p : layout.params()) {
        String stored = canonical.get(p.name());
        if (stored == null) {
          throw new WeftInputException(f + " has no tensor '" + p.name() + "' (expected shape "
              + Arrays.toString(p.shape()) + "); it is not a checkpoint of this model ("
              + spec + ").");
        }
        copyNamed(st, stored, p, params);
      }
    }
    return params;
  }

  /** Loads the weights of a model folder into a model whose weights are all resident. */
  public static void loadWeights(Path dirOrFile, Decoder model) {
    float[] w = readWeights(dirOrFile, model.layout());
    System.arraycopy(w, 0, model.params(), 0, w.length);
  }

  private static void copyInto(SafeTensorsFile st, String name, ParameterLayout.Param p, float[] dst) {
    if (!st.has(name)) {
      throw new WeftInputException(st.path() + " has no tensor '" + name + "'; the checkpoint is damaged or "
          + "belongs to another model. Resume from a complete checkpoint of this model.");
    }
    copyNamed(st, name, p, dst);
  }

  private static void copyNamed(SafeTensorsFile st, String name, ParameterLayout.Param p, float[] dst) {
    int[] shape = st.shape(name);
    if (!Arrays.equals(shape, p.shape())) {
      throw new WeftInputException(st.path() + ": tensor '" + name + "' has shape " + Arrays.toString(shape)
          + " but the model needs " + Arrays.toString(p.shape()) + " for " + p.name()
          + "; the checkpoint was saved for a different model shape.");
    }
    float[] data = st.floats(name);
    System.arraycopy(data, 0, dst, p.offset(), p.size());
  }

  private static float[] slice(float[] flat, ParameterLayout.Param p) {
    return Arrays.copyOfRange(flat, p.offset(), p.offset() + p.size());
  }

  /** Moves {@code tmp} to {@code target}, replacing an existing folder only after the new one is complete. */
  private static void replaceDirectory(Path tmp, Path target) throws IOException {
    Path old = null;
    if (Files.exists(target)) {
      if (!Files.isDirectory(target)) {
        throw new WeftInputException("--save " + target + " exists and is not a folder; choose another path.");
      }
      old = target.resolveSibling("." + target.getFileName() + ".old-" + UUID.randomUUID());
      Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    if (old != null) deleteQuietly(old);
  }

  static void deleteQuietly(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // best effort
        }
      });
    } catch (IOException | UncheckedIOException ignored) {
      // best effort
    }
  }
}
