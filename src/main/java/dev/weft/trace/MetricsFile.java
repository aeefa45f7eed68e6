package dev.weft.trace;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A metrics JSONL file ({@code weft train --metrics}) read leniently for a report: one {@link Row} per line
 * that is a JSON object with a numeric {@code step}; other lines (garbage, a line cut off by a crash) are
 * skipped and counted. Non-finite numbers ({@code NaN}, {@code Infinity}) are accepted, since a diverging run
 * writes them. Optional fields a row may carry: {@code val_loss}, and the events {@code skipped} (true when
 * the optimizer skipped the step) and {@code event} (a word such as "divergence").
 */
public record MetricsFile(List<Row> rows, int skippedLines) {
  /** One step's figures; NaN where the line has none. */
  public record Row(int step, double loss, double valLoss, double lr, double gradNorm, double tokensPerS,
                    double stepMs, long[] peakBytesPerDevice, boolean skipped, String event) {
    /** Whether loss or gradient norm is NaN or infinite on this step. */
    public boolean nonFinite() {
      return !Double.isFinite(loss) || (!Double.isNaN(gradNorm) && !Double.isFinite(gradNorm));
    }
  }

  private static final ObjectMapper JSON = JsonMapper.builder()
      .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build();

  public static MetricsFile read(Path file) throws IOException {
    return parse(Files.readString(file, StandardCharsets.UTF_8));
  }

  public static MetricsFile parse(String text) {
    List<Row> rows = new ArrayList<>();
    int skipped = 0;
    for (String line : text.split("\n")) {
      if (line.isBlank()) continue;
      JsonNode o;
      try {
        o = JSON.readTree(line);
      } catch (IOException e) {
        skipped++;
        continue;
      }
      if (o == null || !o.isObject() || !o.path("step").isNumber()) {
        skipped++;
        continue;
      }
      JsonNode per = o.path("peak_bytes_per_device");
      long[] peaks = new long[per.isArray() ? per.size() : 0];
      for (int i = 0; i < peaks.length; i++) peaks[i] = per.get(i).asLong();
      rows.add(new Row(o.get("step").asInt(), num(o, "loss"), num(o, "val_loss"), num(o, "lr"), num(o, "grad_norm"),
          num(o, "tokens_per_s"), num(o, "step_ms"), peaks, o.path("skipped").asBoolean(false),
          o.hasNonNull("event") ? o.get("event").asText() : null));
    }
    return new MetricsFile(List.copyOf(rows), skipped);
  }

  private static double num(JsonNode o, String field) {
    JsonNode n = o.get(field);
    return n != null && n.isNumber() ? n.asDouble() : Double.NaN;
  }
}
