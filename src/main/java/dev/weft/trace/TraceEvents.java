package dev.weft.trace;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The complete spans ({@code ph: "X"}) of a trace written by {@link Tracer}, read with Jackson's streaming
 * parser so that a truncated file (a run killed while writing) still yields every event before the damage:
 * {@code truncated} then says so. Times are milliseconds from the trace's origin.
 */
public record TraceEvents(List<Span> spans, boolean truncated, String problem) {
  /** One span: the rank (thread id), name, category, start and duration (ms), and its {@code args} (may be empty). */
  public record Span(int rank, String name, String cat, double startMs, double durMs, JsonNode args) {
    public double endMs() {
      return startMs + durMs;
    }

    /** The argument {@code key} as text, or "" when absent. */
    public String arg(String key) {
      return args == null ? "" : args.path(key).asText("");
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Reads {@code file}. A file that is not a trace at all (no {@code traceEvents} array) is refused; a file
   * that breaks off gives the spans read so far with {@code truncated} true and the parser's complaint.
   */
  public static TraceEvents read(Path file) {
    List<Span> spans = new ArrayList<>();
    boolean sawArray = false;
    try (JsonParser p = JSON.createParser(file.toFile())) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new WeftInputException(file + " is not a trace (not a JSON object); give a file written by 'weft train --trace'.");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        JsonToken t = p.nextToken();
        if (field.equals("traceEvents") && t == JsonToken.START_ARRAY) {
          sawArray = true;
          while (p.nextToken() == JsonToken.START_OBJECT) {
            JsonNode e = p.readValueAsTree();
            if (!"X".equals(e.path("ph").asText())) continue;
            spans.add(new Span(e.path("tid").asInt(), e.path("name").asText(), e.path("cat").asText(),
                e.path("ts").asDouble() / 1e3, e.path("dur").asDouble() / 1e3, e.get("args")));
          }
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException e) {
      if (!sawArray) {
        throw new WeftInputException("cannot read the trace " + file + ": " + firstLine(e.getMessage())
            + ". Give a file written by 'weft train --trace'.");
      }
      return new TraceEvents(spans, true, firstLine(e.getMessage()));
    }
    if (!sawArray) {
      throw new WeftInputException(file + " is not a trace (no traceEvents array); give a file written by 'weft train --trace'.");
    }
    return new TraceEvents(spans, false, null);
  }

  static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
