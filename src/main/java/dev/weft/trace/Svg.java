package dev.weft.trace;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The inline SVG charts of {@link HtmlReport}, written as text (no library): a line chart over steps and
 * stacked horizontal bars. Each plotted element carries its data as attributes so that a reader (or a test)
 * can check it: a series' {@code polyline} has {@code data-steps} and {@code data-values} (the raw values,
 * one per point), and the chart's {@code svg} the mapping {@code data-x0 data-x1 data-y0 data-y1} (data
 * range) onto {@code data-left data-top data-plot-w data-plot-h} (pixels); a bar segment has
 * {@code data-part} and {@code data-value}.
 */
final class Svg {
  private Svg() {
  }

  static final String[] PALETTE = {"#3b73b9", "#e08a2c", "#3f9b4f", "#c0392b", "#7b4fa8", "#8c6d31", "#17a2b8",
      "#d62790", "#7f7f7f", "#bcbd22"};

  /** A line of (step, value) points; NaN or infinite values are left out of the line. */
  record Series(String name, String colour, double[] steps, double[] values) {}

  /** A vertical marker at a step (a skipped step, a non-finite value, a spike). */
  record Marker(double step, String kind, String label) {}

  static String esc(String s) {
    return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }

  static String num(double v) {
    return String.format(Locale.ROOT, "%.2f", v);
  }

  /** A short label for an axis tick. */
  static String tick(double v) {
    double a = Math.abs(v);
    if (a == 0) return "0";
    if (a >= 1e9) return String.format(Locale.ROOT, "%.3gG", v / 1e9);
    if (a >= 1e6) return String.format(Locale.ROOT, "%.3gM", v / 1e6);
    if (a >= 1e4) return String.format(Locale.ROOT, "%.3gk", v / 1e3);
    if (a < 1e-2) return String.format(Locale.ROOT, "%.2e", v);
    return String.format(Locale.ROOT, "%.4g", v);
  }

  /** A line chart with one or more series over steps, and markers. */
  static String lineChart(String id, String yLabel, List<Series> series, List<Marker> markers) {
    int w = 560, h = 240, left = 64, right = 12, top = 12, bottom = 34;
    int pw = w - left - right, ph = h - top - bottom;
    double x0 = Double.MAX_VALUE, x1 = -Double.MAX_VALUE, y0 = Double.MAX_VALUE, y1 = -Double.MAX_VALUE;
    for (Series s : series) {
      for (int i = 0; i < s.steps().length; i++) {
        x0 = Math.min(x0, s.steps()[i]);
        x1 = Math.max(x1, s.steps()[i]);
        if (!Double.isFinite(s.values()[i])) continue;
        y0 = Math.min(y0, s.values()[i]);
        y1 = Math.max(y1, s.values()[i]);
      }
    }
    if (x0 > x1) {
      x0 = 0;
      x1 = 1;
    }
    if (y0 > y1) {
      y0 = 0;
      y1 = 1;
    }
    if (x1 == x0) x1 = x0 + 1;
    if (y1 == y0) {
      double pad = Math.abs(y0) > 0 ? Math.abs(y0) * 0.05 : 1;
      y0 -= pad;
      y1 += pad;
    }
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "<svg class=\"chart\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
            + "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" data-x0=\"%s\" data-x1=\"%s\" data-y0=\"%s\" "
            + "data-y1=\"%s\" data-left=\"%d\" data-top=\"%d\" data-plot-w=\"%d\" data-plot-h=\"%d\">%n",
        esc(id), w, h, w, h, x0, x1, y0, y1, left, top, pw, ph));
    sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
        + "stroke=\"#ccc\"/>%n", left, top, pw, ph));
    for (int i = 0; i <= 4; i++) {
      double v = y0 + (y1 - y0) * i / 4;
      double y = top + ph - (v - y0) / (y1 - y0) * ph;
      sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" x2=\"%d\" y1=\"%s\" y2=\"%s\" stroke=\"#e4e4e4\"/>"
          + "<text x=\"%d\" y=\"%s\" text-anchor=\"end\" font-size=\"10\">%s</text>%n", left, left + pw, num(y), num(y),
          left - 4, num(y + 3), esc(tick(v))));
    }
    for (int i = 0; i <= 4; i++) {
      double v = x0 + (x1 - x0) * i / 4;
      double x = left + (v - x0) / (x1 - x0) * pw;
      sb.append(String.format(Locale.ROOT, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%s</text>%n",
          num(x), top + ph + 14, Math.abs(v - Math.round(v)) < 1e-9 || x1 - x0 >= 8 ? Long.toString(Math.round(v))
              : String.format(Locale.ROOT, "%.1f", v)));
    }
    sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">step</text>%n",
        left + pw / 2, h - 4));
    sb.append(String.format(Locale.ROOT, "<text x=\"12\" y=\"%d\" font-size=\"10\" transform=\"rotate(-90 12 %d)\" "
        + "text-anchor=\"middle\">%s</text>%n", top + ph / 2, top + ph / 2, esc(yLabel)));
    for (Marker m : markers) {
      double x = left + (m.step() - x0) / (x1 - x0) * pw;
      String colour = m.kind().equals("skipped") ? "#999" : "#c0392b";
      sb.append(String.format(Locale.ROOT, "<line class=\"marker\" data-kind=\"%s\" data-step=\"%s\" x1=\"%s\" x2=\"%s\" "
              + "y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-dasharray=\"3 2\"><title>%s</title></line>%n",
          esc(m.kind()), tick(m.step()), num(x), num(x), top, top + ph, colour, esc(m.label())));
    }
    for (Series s : series) {
      StringBuilder pts = new StringBuilder(), steps = new StringBuilder(), vals = new StringBuilder();
      for (int i = 0; i < s.steps().length; i++) {
        double v = s.values()[i];
        if (!Double.isFinite(v)) continue;
        double x = left + (s.steps()[i] - x0) / (x1 - x0) * pw;
        double y = top + ph - (v - y0) / (y1 - y0) * ph;
        if (!pts.isEmpty()) {
          pts.append(' ');
          steps.append(' ');
          vals.append(' ');
        }
        pts.append(num(x)).append(',').append(num(y));
        steps.append(Math.round(s.steps()[i]));
        vals.append(v);
      }
      sb.append(String.format(Locale.ROOT, "<polyline class=\"series\" data-series=\"%s\" data-steps=\"%s\" "
              + "data-values=\"%s\" points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>%n",
          esc(s.name()), steps, vals, pts, s.colour()));
      if (s.steps().length == 1 || countFinite(s.values()) == 1) {
        // A single point draws no line: mark it.
        for (int i = 0; i < s.steps().length; i++) {
          if (!Double.isFinite(s.values()[i])) continue;
          double x = left + (s.steps()[i] - x0) / (x1 - x0) * pw;
          double y = top + ph - (s.values()[i] - y0) / (y1 - y0) * ph;
          sb.append(String.format(Locale.ROOT, "<circle cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"/>%n", num(x), num(y),
              s.colour()));
        }
      }
    }
    int lx = left + 8;
    for (Series s : series) {
      sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"3\" fill=\"%s\"/>"
          + "<text x=\"%d\" y=\"%d\" font-size=\"10\">%s</text>%n", lx, top + 8, s.colour(), lx + 13, top + 12, esc(s.name())));
      lx += 20 + 7 * s.name().length();
    }
    sb.append("</svg>\n");
    return sb.toString();
  }

  private static int countFinite(double[] v) {
    int n = 0;
    for (double x : v) if (Double.isFinite(x)) n++;
    return n;
  }

  /** A labelled row of stacked segments (part -> value). */
  record Bar(String label, Map<String, Double> parts) {
    double total() {
      return parts.values().stream().mapToDouble(Double::doubleValue).sum();
    }
  }

  /**
   * Stacked horizontal bars on one scale, a legend of {@code parts} (in order), each segment titled with
   * {@code format} of its value.
   */
  static String stackedBars(String id, List<Bar> bars, List<String> parts, java.util.function.DoubleFunction<String> format) {
    int w = 820, left = 150, right = 90, rowH = 20, top = 8;
    int pw = w - left - right;
    double max = 0;
    for (Bar b : bars) max = Math.max(max, b.total());
    if (max <= 0) max = 1;
    int legendY = top + rowH * bars.size() + 14;
    int h = legendY + 22;
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "<svg class=\"bars\" id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
        + "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" data-scale-max=\"%s\">%n", esc(id), w, h, w, h, max));
    int row = 0;
    for (Bar b : bars) {
      int y = top + row * rowH;
      sb.append(String.format(Locale.ROOT, "<g class=\"bar\" data-label=\"%s\"><text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
          + "font-size=\"11\">%s</text>%n", esc(b.label()), left - 6, y + 13, esc(b.label())));
      double x = left;
      for (int i = 0; i < parts.size(); i++) {
        Double v = b.parts().get(parts.get(i));
        if (v == null || v <= 0) continue;
        double wd = v / max * pw;
        sb.append(String.format(Locale.ROOT, "<rect class=\"part\" data-part=\"%s\" data-value=\"%s\" x=\"%s\" y=\"%d\" "
                + "width=\"%s\" height=\"%d\" fill=\"%s\"><title>%s: %s</title></rect>%n", esc(parts.get(i)), v, num(x),
            y + 2, num(wd), rowH - 4, PALETTE[i % PALETTE.length], esc(parts.get(i)), esc(format.apply(v))));
        x += wd;
      }
      sb.append(String.format(Locale.ROOT, "<text x=\"%s\" y=\"%d\" font-size=\"10\">%s</text></g>%n", num(x + 4), y + 13,
          esc(format.apply(b.total()))));
      row++;
    }
    int lx = left;
    for (int i = 0; i < parts.size(); i++) {
      sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
          + "y=\"%d\" font-size=\"10\">%s</text>%n", lx, legendY, PALETTE[i % PALETTE.length], lx + 13, legendY + 9,
          esc(parts.get(i))));
      lx += 22 + 6 * parts.get(i).length();
    }
    sb.append("</svg>\n");
    return sb.toString();
  }

  /** Colours of timeline spans by kind. */
  static String spanColour(TraceEvents.Span s) {
    String n = s.name().toLowerCase(Locale.ROOT);
    return switch (s.cat()) {
      case "wait" -> switch (s.arg("group")) {
        case "dp" -> "#c0392b";
        case "tp" -> "#d62790";
        case "cp" -> "#17a2b8";
        default -> "#8c6d31";
      };
      case "optimizer" -> "#7b4fa8";
      case "comm" -> "#9a9a9a";
      default -> n.startsWith("w") ? "#3f9b4f" : n.startsWith("b") ? "#e08a2c" : "#3b73b9";
    };
  }

  /**
   * The per-rank timeline of the spans within [from, to] ms: one row per rank; compute and optimizer spans
   * fill the row, communication waits are drawn over its lower half, and the steps are light bands. Zoomed
   * by the page's script through the svg's viewBox.
   */
  static String timeline(String id, List<TraceEvents.Span> spans, double from, double to) {
    java.util.TreeMap<Integer, List<TraceEvents.Span>> byRank = new java.util.TreeMap<>();
    for (TraceEvents.Span s : spans) {
      if (s.endMs() < from || s.startMs() > to) continue;
      byRank.computeIfAbsent(s.rank(), k -> new ArrayList<>()).add(s);
    }
    int w = 1100, rowH = 24, top = 4;
    double scale = w / Math.max(1e-9, to - from);
    int h = top + rowH * byRank.size() + 4;
    StringBuilder labels = new StringBuilder();
    labels.append(String.format(Locale.ROOT, "<svg class=\"timeline-labels\" xmlns=\"http://www.w3.org/2000/svg\" "
        + "width=\"60\" height=\"%d\">%n", h));
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "<svg class=\"timeline\" id=\"" + esc(id) + "\" xmlns=\"http://www.w3.org/2000/svg\" "
            + "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" preserveAspectRatio=\"none\" data-from-ms=\"%s\" "
            + "data-to-ms=\"%s\">%n", w, h, w, h, from, to));
    int row = 0;
    for (var e : byRank.entrySet()) {
      int y = top + row * rowH;
      labels.append(String.format(Locale.ROOT, "<text x=\"2\" y=\"%d\" font-size=\"11\">rank %d</text>%n", y + 15, e.getKey()));
      sb.append(String.format(Locale.ROOT, "<g class=\"rank\" data-rank=\"%d\"><rect x=\"0\" y=\"%d\" width=\"%d\" "
          + "height=\"%d\" fill=\"#f4f4f4\"/>%n", e.getKey(), y, w, rowH - 4));
      for (TraceEvents.Span s : e.getValue()) {
        double x = (Math.max(s.startMs(), from) - from) * scale;
        double wd = Math.max(0.3, (Math.min(s.endMs(), to) - Math.max(s.startMs(), from)) * scale);
        String title = String.format(Locale.ROOT, "%s %.3f ms", s.name(), s.durMs());
        if (s.cat().equals("step")) {
          sb.append(String.format(Locale.ROOT, "<rect class=\"step\" x=\"%s\" y=\"%d\" width=\"%s\" height=\"%d\" "
              + "fill=\"none\" stroke=\"#888\" stroke-dasharray=\"2 2\"><title>%s</title></rect>%n", num(x), y, num(wd),
              rowH - 4, esc(title)));
        } else if (s.cat().equals("wait")) {
          sb.append(String.format(Locale.ROOT, "<rect class=\"span wait\" data-group=\"%s\" x=\"%s\" y=\"%d\" width=\"%s\" "
                  + "height=\"%d\" fill=\"%s\"><title>%s</title></rect>%n", esc(s.arg("group")), num(x), y + (rowH - 4) / 2,
              num(wd), (rowH - 4) / 2, spanColour(s), esc(title)));
        } else {
          sb.append(String.format(Locale.ROOT, "<rect class=\"span\" data-cat=\"%s\" x=\"%s\" y=\"%d\" width=\"%s\" "
              + "height=\"%d\" fill=\"%s\"><title>%s</title></rect>%n", esc(s.cat()), num(x), y, num(wd), rowH - 4,
              spanColour(s), esc(title)));
        }
      }
      sb.append("</g>\n");
      row++;
    }
    sb.append("</svg>\n");
    labels.append("</svg>\n");
    return "<div class=\"timeline-box\">" + labels + "<div class=\"timeline-scroll\">" + sb + "</div></div>\n";
  }
}
