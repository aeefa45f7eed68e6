package dev.weft.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.WeftInputException;
import dev.weft.io.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The JSON training state saved beside a checkpoint's weights ({@code training_state.json}): the last
 * completed step and what fixes the data order. Batches are a pure function of (seed, step), so the
 * data position is the step itself and no sampler RNG state needs saving.
 */
public record TrainingState(int step, long seed, int steps, int batch, int microBatch, double lr) {
  static final String FILE = "training_state.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  public static TrainingState of(TrainConfig c, int step) {
    return new TrainingState(step, c.seed(), c.steps(), c.batch(), c.microBatch(), c.lr());
  }

  void write(Path dir) {
    ObjectNode o = JSON.createObjectNode();
    o.put("step", step);
    o.put("seed", seed);
    o.put("data_position", step);
    o.put("data_order", "batch of step s = pure function of (seed, s)");
    o.put("total_steps", steps);
    o.put("batch", batch);
    o.put("micro_batch", microBatch);
    o.put("lr", lr);
    try {
      AtomicFiles.writeString(dir.resolve(FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static TrainingState read(Path dir) {
    Path f = dir.resolve(FILE);
    if (!Files.isRegularFile(f)) {
      throw new WeftInputException(dir + " has no " + FILE + ", so it is a model folder, not a training checkpoint: "
          + "use --checkpoint " + dir + " to start a new run from its weights, or give a folder saved by 'weft train --save'.");
    }
    try {
      var n = JSON.readTree(f.toFile());
      for (String field : new String[] {"step", "seed", "total_steps", "batch", "micro_batch", "lr"}) {
        if (n == null || !n.hasNonNull(field)) {
          throw new WeftInputException(f + " is missing the field '" + field + "'; the checkpoint is damaged. "
              + "Save it again or resume from an earlier one.");
        }
      }
      return new TrainingState(n.get("step").asInt(), n.get("seed").asLong(), n.get("total_steps").asInt(),
          n.get("batch").asInt(), n.get("micro_batch").asInt(), n.get("lr").asDouble());
    } catch (IOException e) {
      throw new WeftInputException(f + " is not valid JSON (" + e.getMessage().lines().findFirst().orElse("")
          + "); the checkpoint is damaged. Save it again or resume from an earlier one.");
    }
  }

  /** Warns where the resumed run differs from the saved one (the run continues, but not identically). */
  void checkCompatible(TrainConfig c, PrintStream out) {
    if (step >= c.steps()) {
      throw new WeftInputException("the checkpoint is at step " + step + " but --steps is " + c.steps()
          + "; give a larger --steps to train further.");
    }
    if (seed != c.seed()) out.printf("note: --seed %d differs from the checkpoint's %d: the data order changes%n", c.seed(), seed);
    if (batch != c.batch()) out.printf("note: --batch %d differs from the checkpoint's %d%n", c.batch(), batch);
    if (steps != c.steps()) out.printf("note: --steps %d differs from the checkpoint's %d: the LR schedule changes%n", c.steps(), steps);
    if (lr != c.lr()) out.printf("note: --lr %g differs from the checkpoint's %g%n", c.lr(), lr);
  }
}
