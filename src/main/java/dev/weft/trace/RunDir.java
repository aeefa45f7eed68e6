package dev.weft.trace;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.WeftInputException;
import dev.weft.io.AtomicFiles;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * A run folder ({@code weft train --run-dir DIR}): one run's files kept together, as {@code weft report
 * DIR} reads them. {@code config.json} every setting of the run (and the command line), written before
 * the first step; {@code metrics.jsonl} one line per step, as it runs; {@code trace.json} every rank's
 * spans, at the end; {@code summary.json} the measured figures beside the planner's ({@link RunSummary}),
 * at the end. A folder that already holds any of them is refused, so a run never mixes with another.
 */
public record RunDir(Path dir) {
  public static final String CONFIG = "config.json", METRICS = "metrics.jsonl", TRACE = "trace.json",
      SUMMARY = "summary.json";
  /** The files a complete run folder holds. */
  public static final List<String> FILES = List.of(CONFIG, METRICS, TRACE, SUMMARY);

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  public Path config() { return dir.resolve(CONFIG); }
  public Path metrics() { return dir.resolve(METRICS); }
  public Path trace() { return dir.resolve(TRACE); }
  public Path summary() { return dir.resolve(SUMMARY); }

  /**
   * A new run folder at {@code dir}: created if absent; refused (exit 2) if it is a file or already holds a
   * run's files.
   */
  public static RunDir create(Path dir) {
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new WeftInputException("--run-dir " + dir + " is a file, not a folder; choose a new --run-dir.");
    }
    if (Files.isDirectory(dir)) {
      try (Stream<Path> s = Files.list(dir)) {
        List<String> held = s.map(p -> p.getFileName().toString()).filter(FILES::contains).sorted().toList();
        if (!held.isEmpty()) {
          throw new WeftInputException("--run-dir " + dir + " already holds a run (" + String.join(", ", held)
              + "); choose a new --run-dir or delete it.");
        }
      } catch (IOException e) {
        throw new WeftInputException("cannot read the --run-dir " + dir + ": " + e.getMessage() + ".");
      }
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new WeftInputException("cannot create the --run-dir " + dir + ": " + e.getMessage()
          + ". Choose a folder you can write to.");
    }
    return new RunDir(dir);
  }

  /** Writes config.json: every setting of {@code cfg} and the command line that gave them. */
  public void writeConfig(TrainConfig cfg, List<String> commandLine) {
    AtomicFiles.writeString(config(), configJson(cfg, commandLine));
  }

  /** The config.json text of a run (see {@link #writeConfig}). */
  public static String configJson(TrainConfig cfg, List<String> commandLine) {
    ObjectNode o = JSON.createObjectNode();
    o.putPOJO("command_line", commandLine);
    ObjectNode m = o.putObject("model");
    m.put("family", cfg.model().family().name());
    m.put("description", cfg.model().toString());
    m.put("parameters", cfg.model().parameterCount());
    m.set("config", cfg.model().family().writeConfig(cfg.model(), "float32"));
    o.put("steps", cfg.steps());
    o.put("stop_after", cfg.stopAfter());
    o.put("batch", cfg.batch());
    o.put("micro_batch", cfg.microBatch());
    o.put("context", cfg.model().context());
    o.put("lr", cfg.lr());
    o.put("min_lr_fraction", cfg.minLrFraction());
    o.put("warmup", cfg.warmup());
    o.put("weight_decay", cfg.weightDecay());
    o.put("grad_clip", cfg.gradClip());
    o.put("seed", cfg.seed());
    o.put("eval_every", cfg.evalEvery());
    o.put("eval_batches", cfg.evalBatches());
    o.put("threads", cfg.threads());
    o.put("matmul", cfg.gemm());
    o.put("device_memory", cfg.deviceMemory());
    o.put("data", cfg.data() == null ? null : cfg.data().toString());
    o.put("save", cfg.save() == null ? null : cfg.save().toString());
    o.put("resume", cfg.resume() == null ? null : cfg.resume().toString());
    o.put("init", cfg.init() == null ? null : cfg.init().toString());
    o.put("devices", cfg.devices().name().toLowerCase(java.util.Locale.ROOT));
    o.put("comm_timeout_s", cfg.commTimeout().toMillis() / 1e3);
    Parallelism p = cfg.parallel();
    ObjectNode l = o.putObject("layout");
    l.put("dp", p.dp());
    l.put("tp", p.tp());
    l.put("pp", p.pp());
    l.put("cp", p.cp());
    l.put("world_size", p.worldSize());
    l.put("sp", p.sp());
    l.put("zero", p.zero());
    l.put("schedule", p.schedule().cliName());
    l.put("virtual_stages", p.virtualStages());
    l.put("cp_method", p.cpMethod().cliName());
    l.put("recompute", p.recompute());
    l.put("description", p.toString());
    try {
      return JSON.writeValueAsString(o);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Writes summary.json. */
  public void writeSummary(RunSummary s) {
    AtomicFiles.writeString(summary(), s.toJson());
  }
}
