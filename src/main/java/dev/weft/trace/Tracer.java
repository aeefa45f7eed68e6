package dev.weft.trace;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.io.AtomicFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Per-rank timeline events (forward, backward, weight passes, communication waits, optimizer steps),
 * collected from every rank of this process and written as a Chrome / Perfetto trace ("Trace Event
 * Format": complete events {@code ph: "X"} with microsecond {@code ts} and {@code dur}, one thread row per
 * rank). Open the file in chrome://tracing or ui.perfetto.dev, or render it with {@code weft report}.
 * Thread-safe.
 */
public final class Tracer {
  /** One span on one rank's row; {@code args} (may be empty) go to the trace event's {@code args}. */
  public record Event(int rank, String name, String category, long startNanos, long endNanos,
                      java.util.Map<String, Object> args) {
    public Event(int rank, String name, String category, long startNanos, long endNanos) {
      this(rank, name, category, startNanos, endNanos, java.util.Map.of());
    }
  }

  private final List<Event> events = new ArrayList<>();
  private final long origin = System.nanoTime();

  public synchronized void add(int rank, String name, String category, long startNanos, long endNanos) {
    events.add(new Event(rank, name, category, startNanos, endNanos));
  }

  /** A span with arguments (numbers or strings), shown by trace viewers and read by {@link StepBreakdown}. */
  public synchronized void add(int rank, String name, String category, long startNanos, long endNanos,
                               java.util.Map<String, Object> args) {
    events.add(new Event(rank, name, category, startNanos, endNanos, java.util.Map.copyOf(args)));
  }

  public synchronized List<Event> events() {
    return new ArrayList<>(events);
  }

  /** Writes the trace (atomically). */
  public void write(Path file) {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    ArrayNode list = root.putArray("traceEvents");
    List<Event> all = events();
    all.sort(Comparator.comparingLong(Event::startNanos));
    java.util.Set<Integer> ranks = new java.util.TreeSet<>();
    for (Event e : all) {
      ranks.add(e.rank());
      ObjectNode o = list.addObject();
      o.put("name", e.name());
      o.put("cat", e.category());
      o.put("ph", "X");
      o.put("ts", (e.startNanos() - origin) / 1e3);
      o.put("dur", Math.max(0, e.endNanos() - e.startNanos()) / 1e3);
      o.put("pid", 0);
      o.put("tid", e.rank());
      if (!e.args().isEmpty()) o.set("args", json.valueToTree(new java.util.TreeMap<>(e.args())));
    }
    for (int r : ranks) {
      ObjectNode m = list.addObject();
      m.put("name", "thread_name");
      m.put("ph", "M");
      m.put("pid", 0);
      m.put("tid", r);
      m.putObject("args").put("name", "rank " + r);
    }
    root.put("displayTimeUnit", "ms");
    try {
      AtomicFiles.writeString(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
