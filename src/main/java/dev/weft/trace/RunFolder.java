package dev.weft.trace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.parallel.Parallelism;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A run folder ({@link RunDir}) as read for a report: whatever of its four files is there and readable, and
 * a sentence for each that is missing or damaged ({@code problems}). Only a folder with none of them is
 * refused. The model and layout come from config.json (or are null without it).
 */
public record RunFolder(Path dir, String name, JsonNode config, MetricsFile metrics, TraceEvents trace,
                        RunSummary summary, List<String> problems) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static RunFolder read(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new WeftInputException(dir + " is not a folder; give a run folder written by 'weft train --run-dir'.");
    }
    RunDir rd = new RunDir(dir);
    List<String> problems = new ArrayList<>();
    if (RunDir.FILES.stream().noneMatch(f -> Files.isRegularFile(dir.resolve(f)))) {
      throw new WeftInputException(dir + " holds none of " + String.join(", ", RunDir.FILES)
          + ": it is not a run folder. Give a folder written by 'weft train --run-dir'.");
    }
    JsonNode config = null;
    if (!Files.isRegularFile(rd.config())) {
      problems.add("config.json is missing: the model and layout are unknown, so there is no planner comparison");
    } else {
      try {
        config = JSON.readTree(rd.config().toFile());
      } catch (IOException e) {
        problems.add("config.json is unreadable (" + TraceEvents.firstLine(e.getMessage()) + "): the model and layout are unknown");
      }
    }
    MetricsFile metrics = null;
    if (!Files.isRegularFile(rd.metrics())) {
      problems.add("metrics.jsonl is missing: no curves over steps");
    } else {
      try {
        metrics = MetricsFile.read(rd.metrics());
        if (metrics.skippedLines() > 0) {
          problems.add("metrics.jsonl: " + dev.weft.Counts.of(metrics.skippedLines(), "line")
              + " that are not metrics were skipped");
        }
      } catch (IOException e) {
        problems.add("metrics.jsonl is unreadable: " + e.getMessage());
      }
    }
    TraceEvents trace = null;
    if (!Files.isRegularFile(rd.trace())) {
      problems.add("trace.json is missing: no step breakdown and no timeline (the run stopped before its end, or was "
          + "not traced)");
    } else {
      try {
        trace = TraceEvents.read(rd.trace());
        if (trace.truncated()) {
          problems.add("trace.json is truncated (" + trace.problem() + "): the breakdown and timeline use the "
              + dev.weft.Counts.of(trace.spans().size(), "span") + " read before the damage");
        }
      } catch (WeftInputException e) {
        problems.add("trace.json is unreadable: " + e.getMessage());
      }
    }
    RunSummary summary = null;
    if (!Files.isRegularFile(rd.summary())) {
      problems.add("summary.json is missing: no MFU and no measured memory by category (the run did not finish)");
    } else {
      try {
        summary = RunSummary.parse(Files.readString(rd.summary()));
      } catch (IOException e) {
        problems.add("summary.json is unreadable (" + TraceEvents.firstLine(e.getMessage()) + ")");
      }
    }
    Path fn = dir.toAbsolutePath().normalize().getFileName();
    return new RunFolder(dir, fn == null ? dir.toString() : fn.toString(), config, metrics, trace, summary,
        List.copyOf(problems));
  }

  /** The model of config.json, or null. */
  public ModelSpec model() {
    if (config == null || !config.path("model").has("config")) return null;
    try {
      return Families.byName(config.path("model").path("family").asText())
          .readConfig(dir.resolve(RunDir.CONFIG), config.path("model").path("config"));
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** The layout of config.json, or null. */
  public Parallelism parallelism() {
    if (config == null || !config.has("layout")) return null;
    JsonNode l = config.get("layout");
    try {
      return Parallelism.builder().dp(l.path("dp").asInt(1)).tp(l.path("tp").asInt(1)).pp(l.path("pp").asInt(1))
          .cp(l.path("cp").asInt(1)).sp(l.path("sp").asBoolean()).zero(l.path("zero").asInt())
          .schedule(l.path("schedule").asText("1f1b")).virtualStages(l.path("virtual_stages").asInt(1))
          .cpMethod(l.path("cp_method").asText("ring")).recompute(l.path("recompute").asBoolean()).build();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Devices of the run: config.json's world size, else the summary's or the metrics' device count, else 1. */
  public int devices() {
    if (config != null && config.path("layout").has("world_size")) return config.path("layout").path("world_size").asInt();
    if (summary != null && summary.peakBytesPerDevice() != null) return summary.peakBytesPerDevice().length;
    if (metrics != null && !metrics.rows().isEmpty()) return Math.max(1, metrics.rows().get(0).peakBytesPerDevice().length);
    return 1;
  }

  /** The layout as config.json describes it, or "layout unknown". */
  public String layoutText() {
    return config != null ? config.path("layout").path("description").asText("layout unknown") : "layout unknown";
  }
}
