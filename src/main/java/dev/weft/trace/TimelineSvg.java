package dev.weft.trace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Renders a Chrome trace written by {@link Tracer} as an SVG picture: one row per rank, one box per span,
 * coloured by kind (forward blue, backward orange, weight pass green, communication grey, optimizer purple),
 * labelled with the micro-batch where there is room; idle time is the white between boxes.
 */
public final class TimelineSvg {
  private TimelineSvg() {}

  record Span(int rank, String name, String cat, double ts, double dur) {}

  public static String render(Path trace, double fromMs, double toMs) {
    List<Span> spans = new ArrayList<>();
    try {
      JsonNode root = new ObjectMapper().readTree(trace.toFile());
      JsonNode ev = root == null ? null : root.get("traceEvents");
      if (ev == null || !ev.isArray()) {
        throw new WeftInputException(trace + " is not a trace (no traceEvents array); give a file written by 'weft train --trace'.");
      }
      for (JsonNode e : ev) {
        if (!"X".equals(e.path("ph").asText())) continue;
        spans.add(new Span(e.path("tid").asInt(), e.path("name").asText(), e.path("cat").asText(),
            e.path("ts").asDouble() / 1e3, e.path("dur").asDouble() / 1e3));
      }
    } catch (IOException e) {
      throw new WeftInputException("cannot read the trace " + trace + ": " + e.getMessage());
    }
    if (spans.isEmpty()) throw new WeftInputException(trace + " holds no spans to draw.");
    double t0 = fromMs, t1 = toMs;
    if (!(t1 > t0)) {
      t0 = Double.MAX_VALUE;
      t1 = 0;
      for (Span s : spans) {
        t0 = Math.min(t0, s.ts());
        t1 = Math.max(t1, s.ts() + s.dur());
      }
    }
    Map<Integer, List<Span>> byRank = new TreeMap<>();
    for (Span s : spans) byRank.computeIfAbsent(s.rank(), k -> new ArrayList<>()).add(s);
    int width = 1200, left = 70, rowH = 26, top = 30;
    double scale = (width - left - 10) / (t1 - t0);
    StringBuilder sb = new StringBuilder();
    int h = top + rowH * byRank.size() + 30;
    sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        + "font-family=\"sans-serif\" font-size=\"10\">%n", width, h));
    sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"18\" font-size=\"12\">%s (%.1f ms)</text>%n", left,
        escape(trace.getFileName().toString()), t1 - t0));
    int row = 0;
    for (Map.Entry<Integer, List<Span>> e : byRank.entrySet()) {
      int y = top + row * rowH;
      sb.append(String.format(Locale.ROOT, "<text x=\"4\" y=\"%d\">rank %d</text>%n", y + 15, e.getKey()));
      sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f4f4f4\"/>%n",
          left, y, width - left - 10, rowH - 4));
      for (Span s : e.getValue()) {
        if (s.ts() + s.dur() < t0 || s.ts() > t1) continue;
        if (s.cat().equals("step") || s.cat().equals("wait")) continue; // outlines and waits: the HTML report draws them
        double x = left + (Math.max(s.ts(), t0) - t0) * scale;
        double w = Math.max(0.5, (Math.min(s.ts() + s.dur(), t1) - Math.max(s.ts(), t0)) * scale);
        sb.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
            + "<title>%s %.2f ms</title></rect>%n", x, y, w, rowH - 4, colour(s), escape(s.name()), s.dur()));
        if (w > 18) {
          sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" fill=\"white\">%s</text>%n", x + 2, y + 15,
              escape(shortName(s.name()))));
        }
      }
      row++;
    }
    int y = top + rowH * byRank.size() + 15;
    String[][] legend = {{"forward", "#3b73b9"}, {"backward", "#e08a2c"}, {"weight", "#3f9b4f"}, {"comm", "#9a9a9a"},
        {"optimizer", "#7b4fa8"}};
    int x = left;
    for (String[] l : legend) {
      sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
          + "<text x=\"%d\" y=\"%d\">%s</text>%n", x, y - 9, l[1], x + 14, y, l[0]));
      x += 90;
    }
    sb.append("</svg>\n");
    return sb.toString();
  }

  private static String colour(Span s) {
    String n = s.name().toLowerCase(Locale.ROOT);
    if (s.cat().equals("comm") || n.startsWith("recv") || n.startsWith("send") || n.contains("sync")) return "#9a9a9a";
    if (s.cat().equals("optimizer")) return "#7b4fa8";
    if (n.startsWith("w") || n.contains("weight")) return "#3f9b4f";
    if (n.startsWith("b")) return "#e08a2c";
    return "#3b73b9";
  }

  private static String shortName(String n) {
    int i = n.indexOf(" mb");
    return i >= 0 ? n.substring(0, 1) + n.substring(i + 3).trim() : n.substring(0, Math.min(3, n.length()));
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
