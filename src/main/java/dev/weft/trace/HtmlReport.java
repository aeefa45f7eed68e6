package dev.weft.trace;

import dev.weft.model.ModelSpec;
import dev.weft.parallel.Parallelism;
import dev.weft.plan.AutoLayout;
import dev.weft.plan.Calibration;
import dev.weft.plan.RunPrediction;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.Trainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code weft report DIR [DIR2 ...]}: one self-contained HTML page (inline SVG charts and a few lines of
 * inline script for the timeline's zoom; nothing fetched) about one or more run folders. Per run: the
 * curves over steps (loss and validation loss, learning rate, gradient norm, tokens/s, MFU, peak memory per
 * device, with skipped steps, non-finite values and loss spikes marked), the measured step breakdown per
 * rank ({@link StepBreakdown}) beside the planner's for the same layout and this machine's calibration, with
 * the largest discrepancy named; memory per device by category, measured beside the planner's model; the
 * per-rank timeline of the last steady steps; and a written diagnosis. With two runs or more, a comparison:
 * scaling efficiency against the first run and where the extra device time went, part by part.
 * Missing or damaged files are reported at the top of their run and leave their sections out.
 */
public final class HtmlReport {
  private HtmlReport() {
  }

  /** Loss above this multiple of the median of the previous steps is a spike. */
  static final double SPIKE = 1.3;

  /** What the report concluded about one run (for the comparison and for tests). */
  record Analysis(RunFolder run, StepBreakdown breakdown, RunPrediction prediction, List<String> diagnosis) {}

  public static String render(List<RunFolder> runs) {
    List<Analysis> analyses = new ArrayList<>();
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < runs.size(); i++) {
      Analysis a = analyse(runs.get(i));
      analyses.add(a);
      body.append(runSection(a, i));
    }
    if (runs.size() > 1) body.append(comparison(analyses));
    StringBuilder sb = new StringBuilder();
    sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Weft report: ")
        .append(Svg.esc(String.join(", ", runs.stream().map(RunFolder::name).toList()))).append("</title>\n<style>\n")
        .append(CSS).append("</style>\n</head>\n<body>\n<h1>Weft run report</h1>\n");
    sb.append("<p class=\"meta\">").append(Counts.runs(runs.size())).append(". Planner figures use ")
        .append(RunPrediction.isCalibrated() ? "this machine's calibration (" + Svg.esc(Calibration.defaultFile().toString()) + ")"
            : "assumed figures: this machine is not calibrated ('weft plan --calibrate')")
        .append(".</p>\n");
    sb.append(body);
    sb.append("<script>\n").append(SCRIPT).append("</script>\n</body>\n</html>\n");
    return sb.toString();
  }

  private static final class Counts {
    static String runs(int n) {
      return n == 1 ? "One run" : n + " runs";
    }
  }

  static Analysis analyse(RunFolder run) {
    Parallelism par = run.parallelism();
    StepBreakdown b = null;
    if (run.trace() != null && par != null) {
      StepBreakdown x = StepBreakdown.of(run.trace(), par.dp(), par.tp(), par.pp(), par.cp());
      if (!x.isEmpty()) b = x;
    } else if (run.trace() != null) {
      StepBreakdown x = StepBreakdown.of(run.trace(), 1, 1, 1, 1);
      if (!x.isEmpty()) b = x;
    }
    RunPrediction p = null;
    ModelSpec model = run.model();
    if (model != null && par != null) {
      try {
        p = RunPrediction.of(model, run.config().path("batch").asInt(), par, run.config().path("micro_batch").asInt(),
            Calibration.loadOrDefault(null), RunPrediction.isCalibrated());
      } catch (RuntimeException e) {
        p = null;
      }
    }
    return new Analysis(run, b, p, diagnose(run, b, p));
  }

  // ---- one run ---------------------------------------------------------------------------------------------

  private static String runSection(Analysis a, int index) {
    RunFolder run = a.run();
    StringBuilder sb = new StringBuilder();
    String id = "run-" + index;
    sb.append("<section class=\"run\" id=\"").append(id).append("\">\n<h2>").append(Svg.esc(run.name())).append("</h2>\n");
    sb.append("<p class=\"meta\">").append(Svg.esc(run.dir().toString())).append(" &middot; ")
        .append(Svg.esc(run.layoutText())).append(" &middot; ").append(run.devices()).append(run.devices() == 1
            ? " device" : " devices");
    if (run.config() != null) sb.append(" &middot; ").append(Svg.esc(run.config().path("model").path("description").asText()));
    sb.append("</p>\n");
    if (!run.problems().isEmpty()) {
      sb.append("<div class=\"problems\" id=\"").append(id).append("-problems\"><b>Missing or damaged:</b><ul>\n");
      for (String p : run.problems()) sb.append("<li>").append(Svg.esc(p)).append("</li>\n");
      sb.append("</ul></div>\n");
    }
    sb.append("<h3>Diagnosis</h3>\n<ul class=\"diagnosis\" id=\"").append(id).append("-diagnosis\">\n");
    for (String d : a.diagnosis()) sb.append("<li>").append(Svg.esc(d)).append("</li>\n");
    sb.append("</ul>\n");
    if (run.summary() != null) sb.append(summaryTable(run.summary()));
    if (run.metrics() != null && !run.metrics().rows().isEmpty()) sb.append(curves(run, id));
    if (a.breakdown() != null) sb.append(breakdownSection(a, id));
    if (run.summary() != null || a.prediction() != null) sb.append(memorySection(a, id));
    if (run.trace() != null && !run.trace().spans().isEmpty()) sb.append(timelineSection(run, a.breakdown(), id));
    sb.append("</section>\n");
    return sb.toString();
  }

  private static String summaryTable(RunSummary s) {
    StringBuilder sb = new StringBuilder("<table class=\"summary\">\n");
    row(sb, "steps", Integer.toString(s.steps()));
    row(sb, "step time (median of steady steps)", String.format(Locale.ROOT, "%.1f ms", s.stepMs()));
    row(sb, "tokens/s", String.format(Locale.ROOT, "%,.0f", s.tokensPerS()));
    row(sb, "MFU", s.mfu() == null ? "not measured (--no-mfu)"
        : String.format(Locale.ROOT, "%.1f%% of %.1f GFLOP/s", 100 * s.mfu(), s.matmulPeakGflops()));
    row(sb, "final loss", String.format(Locale.ROOT, "%.4f", s.finalLoss())
        + (s.finalValLoss() == null ? "" : String.format(Locale.ROOT, " (validation %.4f)", s.finalValLoss())));
    if (s.prediction() != null && s.prediction().error() == null) {
      row(sb, "planner's step time (at training)", String.format(Locale.ROOT, "%.1f ms (measured / predicted %.2f, %s)",
          s.prediction().stepMs(), s.prediction().stepRatio(), s.prediction().calibrated() ? "calibrated" : "uncalibrated"));
    }
    return sb.append("</table>\n").toString();
  }

  private static void row(StringBuilder sb, String k, String v) {
    sb.append("<tr><th>").append(Svg.esc(k)).append("</th><td>").append(Svg.esc(v)).append("</td></tr>\n");
  }

  private static String curves(RunFolder run, String id) {
    List<MetricsFile.Row> rows = run.metrics().rows();
    int n = rows.size();
    double[] steps = new double[n], loss = new double[n], val = new double[n], lr = new double[n], norm = new double[n],
        tps = new double[n], mfu = new double[n];
    int devices = 0;
    for (MetricsFile.Row r : rows) devices = Math.max(devices, r.peakBytesPerDevice().length);
    double[][] peaks = new double[devices][n];
    double flopsPerStep = flopsPerStep(run);
    Double peakGflops = run.summary() == null ? null : run.summary().matmulPeakGflops();
    for (int i = 0; i < n; i++) {
      MetricsFile.Row r = rows.get(i);
      steps[i] = r.step();
      loss[i] = r.loss();
      val[i] = r.valLoss();
      lr[i] = r.lr();
      norm[i] = r.gradNorm();
      tps[i] = r.tokensPerS();
      mfu[i] = peakGflops == null || Double.isNaN(flopsPerStep) ? Double.NaN
          : 100 * flopsPerStep / (r.stepMs() / 1e3) / (peakGflops * 1e9);
      for (int d = 0; d < devices; d++) {
        peaks[d][i] = d < r.peakBytesPerDevice().length ? r.peakBytesPerDevice()[d] / (1024.0 * 1024.0) : Double.NaN;
      }
    }
    List<Svg.Marker> markers = markers(rows);
    StringBuilder sb = new StringBuilder("<h3>Over steps</h3>\n<div class=\"grid\">\n");
    List<Svg.Series> lossSeries = new ArrayList<>();
    lossSeries.add(new Svg.Series("loss", Svg.PALETTE[0], steps, loss));
    if (anyFinite(val)) lossSeries.add(new Svg.Series("validation loss", Svg.PALETTE[1], steps, val));
    sb.append(figure("Loss", Svg.lineChart(id + "-loss", "loss", lossSeries, markers)));
    sb.append(figure("Learning rate", Svg.lineChart(id + "-lr", "lr", List.of(new Svg.Series("lr", Svg.PALETTE[2], steps, lr)),
        markers)));
    sb.append(figure("Gradient norm (before clipping)", Svg.lineChart(id + "-grad-norm", "norm",
        List.of(new Svg.Series("grad norm", Svg.PALETTE[3], steps, norm)), markers)));
    sb.append(figure("Tokens per second", Svg.lineChart(id + "-tokens-per-s", "tokens/s",
        List.of(new Svg.Series("tokens/s", Svg.PALETTE[4], steps, tps)), markers)));
    if (anyFinite(mfu)) {
      sb.append(figure("MFU (% of the measured fp32 matmul peak)", Svg.lineChart(id + "-mfu", "MFU %",
          List.of(new Svg.Series("MFU %", Svg.PALETTE[5], steps, mfu)), markers)));
    } else {
      sb.append(figure("MFU", "<p class=\"note\" id=\"" + id + "-mfu-missing\">No MFU: the run measured no matmul peak "
          + "(--no-mfu, or summary.json missing) or its model is unknown.</p>"));
    }
    List<Svg.Series> mem = new ArrayList<>();
    for (int d = 0; d < devices; d++) mem.add(new Svg.Series("device " + d, Svg.PALETTE[d % Svg.PALETTE.length], steps, peaks[d]));
    sb.append(figure("Peak memory per device (MiB)", Svg.lineChart(id + "-peak-memory", "MiB", mem, markers)));
    sb.append("</div>\n");
    return sb.toString();
  }

  private static boolean anyFinite(double[] v) {
    for (double x : v) if (Double.isFinite(x)) return true;
    return false;
  }

  private static String figure(String caption, String content) {
    return "<figure>" + content + "<figcaption>" + Svg.esc(caption) + "</figcaption></figure>\n";
  }

  /** Model FLOPs of a step from config.json, or NaN. */
  private static double flopsPerStep(RunFolder run) {
    ModelSpec m = run.model();
    if (m == null) return Double.NaN;
    return Trainer.flopsPerStep(m, run.config().path("batch").asInt(), m.context());
  }

  /** Skipped steps, non-finite values, events and loss spikes. */
  static List<Svg.Marker> markers(List<MetricsFile.Row> rows) {
    List<Svg.Marker> m = new ArrayList<>();
    for (MetricsFile.Row r : rows) {
      if (r.skipped()) m.add(new Svg.Marker(r.step(), "skipped", "step " + r.step() + " skipped"));
      if (r.nonFinite()) m.add(new Svg.Marker(r.step(), "non-finite", "step " + r.step() + ": non-finite loss or gradient norm"));
      if (r.event() != null) m.add(new Svg.Marker(r.step(), "event", "step " + r.step() + ": " + r.event()));
    }
    for (int s : spikes(rows)) m.add(new Svg.Marker(s, "spike", "step " + s + ": loss spike"));
    return m;
  }

  /** Steps whose loss exceeds {@link #SPIKE} times the median of the (up to 5) previous finite losses (3 at least). */
  static List<Integer> spikes(List<MetricsFile.Row> rows) {
    List<Integer> out = new ArrayList<>();
    List<Double> prev = new ArrayList<>();
    for (MetricsFile.Row r : rows) {
      if (!Double.isFinite(r.loss())) continue;
      if (prev.size() >= 3) {
        List<Double> w = new ArrayList<>(prev.subList(Math.max(0, prev.size() - 5), prev.size()));
        w.sort(null);
        double med = w.get(w.size() / 2);
        if (r.loss() > SPIKE * med) out.add(r.step());
      }
      prev.add(r.loss());
    }
    return out;
  }

  private static String breakdownSection(Analysis a, String id) {
    StepBreakdown b = a.breakdown();
    List<Svg.Bar> bars = new ArrayList<>();
    for (StepBreakdown.RankParts r : b.ranks()) bars.add(new Svg.Bar("rank " + r.rank(), r.partsMs()));
    Map<String, Double> predicted = a.prediction() == null ? null : a.prediction().partsMs();
    if (predicted != null) bars.add(new Svg.Bar("planner (busiest stage)", predicted));
    StringBuilder sb = new StringBuilder("<h3>Where the step time went</h3>\n");
    sb.append("<p class=\"note\">Measured from the trace over steps ").append(b.steps()).append(" (mean per step, ms); ")
        .append("every instant of a rank's step goes to one part, so each bar is that rank's step.</p>\n");
    sb.append(Svg.stackedBars(id + "-breakdown", bars, StepBreakdown.PARTS, v -> String.format(Locale.ROOT, "%.2f ms", v)));
    sb.append("<table class=\"breakdown\" id=\"").append(id).append("-breakdown-table\">\n<tr><th>rank</th><th>step ms</th>");
    for (String p : StepBreakdown.PARTS) sb.append("<th>").append(p).append("</th>");
    sb.append("</tr>\n");
    for (StepBreakdown.RankParts r : b.ranks()) {
      sb.append("<tr><td>").append(r.rank()).append("</td><td>").append(String.format(Locale.ROOT, "%.2f", r.stepMs()))
          .append("</td>");
      for (String p : StepBreakdown.PARTS) {
        sb.append("<td>").append(String.format(Locale.ROOT, "%.2f", r.partsMs().get(p))).append("</td>");
      }
      sb.append("</tr>\n");
    }
    if (predicted != null) {
      sb.append("<tr class=\"planner\"><td>planner</td><td>").append(String.format(Locale.ROOT, "%.2f",
          a.prediction().stepSeconds() * 1e3)).append("</td>");
      for (String p : StepBreakdown.PARTS) {
        sb.append("<td>").append(String.format(Locale.ROOT, "%.2f", predicted.getOrDefault(p, 0.0))).append("</td>");
      }
      sb.append("</tr>\n");
    }
    sb.append("</table>\n");
    if (predicted != null) {
      StepBreakdown.Discrepancy d = b.compare(predicted);
      sb.append("<p class=\"discrepancy\" id=\"").append(id).append("-discrepancy\">Largest discrepancy with the planner: <b>")
          .append(Svg.esc(d.part())).append("</b>, ").append(String.format(Locale.ROOT, "%.2f ms measured (mean over ranks) "
              + "against %.2f ms predicted", d.measuredMs(), d.predictedMs())).append(".</p>\n");
    }
    return sb.toString();
  }

  private static final List<String> CATEGORIES = List.of("weights", "gradients", "optimizer", "activations",
      "comm_buffers");

  private static String memorySection(Analysis a, String id) {
    RunSummary s = a.run().summary();
    RunPrediction p = a.prediction();
    int devices = s != null && s.peakBytesPerDevice() != null ? s.peakBytesPerDevice().length
        : p != null ? p.memoryPerDevice().size() : 0;
    List<Svg.Bar> bars = new ArrayList<>();
    StringBuilder table = new StringBuilder("<table class=\"memory\" id=\"" + id + "-memory-table\">\n<tr><th>device</th>"
        + "<th>measured peak</th><th>planner</th><th>measured / planner</th></tr>\n");
    for (int d = 0; d < devices; d++) {
      Map<String, Long> meas = s != null && s.peakByCategory() != null && d < s.peakByCategory().size()
          ? s.peakByCategory().get(d) : null;
      if (meas != null && !meas.isEmpty()) bars.add(new Svg.Bar("device " + d + " measured", toMiB(meas)));
      Map<String, Long> pred = p != null && d < p.memoryPerDevice().size() ? p.memoryByCategory(d) : null;
      if (pred != null) bars.add(new Svg.Bar("device " + d + " planner", toMiB(pred)));
      long m = s != null && s.peakBytesPerDevice() != null ? s.peakBytesPerDevice()[d] : -1;
      long q = pred != null ? p.memoryPerDevice().get(d).total() : -1;
      table.append("<tr><td>").append(d).append("</td><td>").append(m < 0 ? "-" : DeviceMemory.format(m)).append("</td><td>")
          .append(q < 0 ? "-" : DeviceMemory.format(q)).append("</td><td>")
          .append(m < 0 || q <= 0 ? "-" : String.format(Locale.ROOT, "%.3f", m / (double) q)).append("</td></tr>\n");
    }
    table.append("</table>\n");
    return "<h3>Memory per device by category</h3>\n<p class=\"note\">Measured: bytes by category at each device's "
        + "peak. Planner: the runtime memory model for the same layout.</p>\n"
        + Svg.stackedBars(id + "-memory", bars, CATEGORIES, v -> String.format(Locale.ROOT, "%.2f MiB", v)) + table;
  }

  private static Map<String, Double> toMiB(Map<String, Long> bytes) {
    Map<String, Double> m = new LinkedHashMap<>();
    for (var e : bytes.entrySet()) m.put(e.getKey(), e.getValue() / (1024.0 * 1024.0));
    return m;
  }

  /** The timeline of the last (up to) two analysed steps, or of the whole trace without step spans. */
  private static String timelineSection(RunFolder run, StepBreakdown b, String id) {
    List<TraceEvents.Span> spans = run.trace().spans();
    double from = Double.MAX_VALUE, to = -Double.MAX_VALUE;
    List<Integer> show = b == null ? List.of() : b.steps().subList(Math.max(0, b.steps().size() - 2), b.steps().size());
    for (TraceEvents.Span s : spans) {
      if (!show.isEmpty() && !(s.cat().equals("step") && s.args() != null && show.contains(s.args().path("step").asInt()))) {
        continue;
      }
      from = Math.min(from, s.startMs());
      to = Math.max(to, s.endMs());
    }
    if (!(to > from)) return "";
    return "<h3>Timeline</h3>\n<p class=\"note\">" + (show.isEmpty() ? "The whole trace" : "Steps " + show)
        + String.format(Locale.ROOT, ", %.1f ms. ", to - from)
        + "Forward blue, backward orange, weight pass green, optimizer purple, communication grey; exposed waits "
        + "over the lower half (dp red, tp pink, cp teal, pp brown); dashed boxes are steps. Wheel or the buttons zoom, "
        + "drag pans.</p>\n<div class=\"timeline-section\"><div class=\"zoom\"><button type=\"button\" data-zoom=\"in\">zoom in</button> "
        + "<button type=\"button\" data-zoom=\"out\">zoom out</button> <button type=\"button\" data-zoom=\"reset\">reset"
        + "</button></div>\n" + Svg.timeline(id + "-timeline", spans, from, to) + "</div>\n";
  }

  // ---- diagnosis -------------------------------------------------------------------------------------------

  /** The written diagnosis of one run: utilisation, the planner's better layout, loss spikes and divergence. */
  static List<String> diagnose(RunFolder run, StepBreakdown b, RunPrediction p) {
    List<String> out = new ArrayList<>();
    if (b != null) {
      Map<String, Double> parts = b.meanPartsMs();
      double step = b.meanStepMs();
      String worst = null;
      for (String k : StepBreakdown.PARTS) {
        if (k.equals("compute")) continue;
        if (worst == null || parts.get(k) > parts.get(worst)) worst = k;
      }
      out.add(String.format(Locale.ROOT, "Compute is %.0f%% of the step (%.1f of %.1f ms, mean over ranks).",
          100 * parts.get("compute") / step, parts.get("compute"), step));
      if (worst != null && parts.get(worst) > 0) {
        out.add(String.format(Locale.ROOT, "The biggest loss of utilisation is %s: %.0f%% of the step (%.1f ms). %s",
            describe(worst), 100 * parts.get(worst) / step, parts.get(worst), remedy(worst)));
      }
      if (p != null) out.add("Largest discrepancy with the planner's breakdown: " + b.compare(p.partsMs()) + ".");
    } else {
      out.add("No step breakdown: the trace is missing or has no step spans.");
    }
    if (p != null) {
      String better = betterLayout(run, p);
      if (better != null) out.add(better);
    }
    MetricsFile m = run.metrics();
    if (m != null && !m.rows().isEmpty()) {
      List<Integer> spikes = spikes(m.rows());
      if (!spikes.isEmpty()) {
        out.add("Loss spikes (loss above " + SPIKE + "x the median of the previous steps) at step"
            + (spikes.size() == 1 ? " " : "s ") + join(spikes) + ".");
      }
      List<Integer> bad = new ArrayList<>(), skipped = new ArrayList<>();
      for (MetricsFile.Row r : m.rows()) {
        if (r.nonFinite()) bad.add(r.step());
        if (r.skipped()) skipped.add(r.step());
        if (r.event() != null) out.add("Step " + r.step() + ": " + r.event() + ".");
      }
      if (!bad.isEmpty()) {
        out.add("Divergence: non-finite loss or gradient norm from step " + bad.get(0) + " (steps " + join(bad)
            + "). Lower --lr, keep --grad-clip on, or resume from a checkpoint before step " + bad.get(0) + ".");
      } else {
        double first = m.rows().get(0).loss(), last = m.rows().get(m.rows().size() - 1).loss();
        if (m.rows().size() > 3 && last > first) {
          out.add(String.format(Locale.ROOT, "The loss rose over the run (%.4f at step %d, %.4f at step %d): the run "
                  + "diverges; lower --lr or lengthen --warmup.", first, m.rows().get(0).step(), last,
              m.rows().get(m.rows().size() - 1).step()));
        } else if (spikes.isEmpty()) {
          out.add("No loss spikes, non-finite values or divergence.");
        }
      }
      if (!skipped.isEmpty()) out.add("Skipped steps: " + join(skipped) + ".");
    }
    return out;
  }

  private static String join(List<Integer> xs) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < xs.size() && i < 20; i++) sb.append(i > 0 ? ", " : "").append(xs.get(i));
    if (xs.size() > 20) sb.append(", ... (").append(xs.size()).append(" in all)");
    return sb.toString();
  }

  static String describe(String part) {
    return switch (part) {
      case "compute" -> "compute (forward, backward and weight passes)";
      case "bubble" -> "the pipeline bubble (stages idle, waiting for their neighbours)";
      case "dp" -> "exposed data-parallel communication (gradient reduction not hidden under backward)";
      case "tp" -> "exposed tensor-parallel communication";
      case "cp" -> "exposed context-parallel communication";
      case "pp" -> "pipeline send/receive time";
      case "imbalance" -> "load imbalance (waiting for slower ranks of the data-parallel group)";
      case "optimizer" -> "the optimizer step";
      default -> "time outside any traced span (the loss and norm bookkeeping, the host between spans)";
    };
  }

  static String remedy(String part) {
    return switch (part) {
      case "bubble" -> "More micro-batches per step shrink it (a smaller --micro-batch or a larger --batch), "
          + "as does --schedule interleaved or zb, or fewer pipeline stages.";
      case "dp" -> "A larger batch per replica amortises it; fewer data-parallel replicas, or ZeRO 1, move less.";
      case "tp" -> "A smaller --tp (tensor parallelism pays off only with fast links) or --sp.";
      case "cp" -> "A smaller --cp, or --cp-attention alltoall.";
      case "pp" -> "Fewer pipeline stages.";
      case "imbalance" -> "Balance the work: an even --batch split, or --stage-split by cost.";
      case "optimizer" -> "ZeRO 1 shards the optimizer over data-parallel ranks.";
      default -> "Fewer, longer steps (a larger --batch) amortise it.";
    };
  }

  /** The planner's best layout for the run's model, batch and devices, if it predicts a gain; else null. */
  static String betterLayout(RunFolder run, RunPrediction current) {
    ModelSpec model = run.model();
    if (model == null) return null;
    int devices = current.layout().devices();
    int batch = run.config().path("batch").asInt();
    try {
      AutoLayout.Choice c = AutoLayout.choose(model, batch, 0, 0, devices, Calibration.loadOrDefault(null));
      double best = c.candidate().time().step(), now = current.stepSeconds();
      String flags = c.parallelism().flags();
      if (best < 0.95 * now && !c.layout().equals(current.layout())) {
        return String.format(Locale.ROOT, "The planner's better layout for %d devices: %s (%s), micro-batch %d, "
                + "predicted %.1f ms per step against %.1f ms for this layout: %.2fx faster. Try: weft train ... %s "
                + "--micro-batch %d.", devices, c.parallelism(), flags.isEmpty() ? "one device" : flags, c.microBatch(),
            best * 1e3, now * 1e3, now / best, flags, c.microBatch());
      }
      return String.format(Locale.ROOT, "The planner finds no better layout of %d devices for this model and batch "
          + "(its best, %s, is predicted at %.1f ms against %.1f ms for this one).", devices, c.parallelism(), best * 1e3,
          now * 1e3);
    } catch (RuntimeException e) {
      return "The planner could not search layouts for this run: " + e.getMessage();
    }
  }

  // ---- comparison ------------------------------------------------------------------------------------------

  private static String comparison(List<Analysis> as) {
    StringBuilder sb = new StringBuilder("<section class=\"comparison\" id=\"comparison\">\n<h2>Comparison</h2>\n");
    Analysis base = as.get(0);
    double baseTps = tokensPerS(base);
    int baseN = base.run().devices();
    sb.append("<p class=\"note\">Against the first run, ").append(Svg.esc(base.run().name()))
        .append(". Scaling efficiency = (tokens/s per device) / (the first run's tokens/s per device). Extra device "
            + "time: each part's ms per step times the devices, minus the first run's; the same global batch needs the "
            + "same device time when scaling is perfect.</p>\n");
    sb.append("<table class=\"compare\" id=\"comparison-table\">\n<tr><th>run</th><th>layout</th><th>devices</th>"
        + "<th>step ms</th><th>tokens/s</th><th>scaling efficiency</th><th>extra device time went to</th></tr>\n");
    List<String> sentences = new ArrayList<>();
    for (Analysis a : as) {
      double tps = tokensPerS(a);
      int n = a.run().devices();
      double eff = (tps / n) / (baseTps / baseN);
      String where = "-";
      if (a != base && a.breakdown() != null && base.breakdown() != null) {
        Map<String, Double> mine = a.breakdown().meanPartsMs(), theirs = base.breakdown().meanPartsMs();
        String top = null;
        double topExtra = 0, total = 0;
        for (String p : StepBreakdown.PARTS) {
          double extra = mine.get(p) * n - theirs.get(p) * baseN;
          total += extra;
          if (top == null || extra > topExtra) {
            top = p;
            topExtra = extra;
          }
        }
        where = String.format(Locale.ROOT, "%s (+%.1f of %+.1f device-ms per step)", top, topExtra, total);
        sentences.add(String.format(Locale.ROOT, "%s: scaling efficiency %.0f%%; of its %+.1f extra device-ms per step, "
            + "%.1f went to %s.", a.run().name(), 100 * eff, total, topExtra, describe(top)));
      }
      sb.append("<tr><td>").append(Svg.esc(a.run().name())).append("</td><td>").append(Svg.esc(a.run().layoutText()))
          .append("</td><td>").append(n).append("</td><td>").append(String.format(Locale.ROOT, "%.1f", stepMs(a)))
          .append("</td><td>").append(String.format(Locale.ROOT, "%.0f", tps)).append("</td><td class=\"efficiency\">")
          .append(String.format(Locale.ROOT, "%.3f", eff)).append("</td><td>").append(Svg.esc(where)).append("</td></tr>\n");
    }
    sb.append("</table>\n<ul class=\"diagnosis\" id=\"comparison-diagnosis\">\n");
    for (String s : sentences) sb.append("<li>").append(Svg.esc(s)).append("</li>\n");
    sb.append("</ul>\n");
    List<Svg.Bar> bars = new ArrayList<>();
    for (Analysis a : as) {
      if (a.breakdown() == null) continue;
      Map<String, Double> dev = new LinkedHashMap<>();
      for (var e : a.breakdown().meanPartsMs().entrySet()) dev.put(e.getKey(), e.getValue() * a.run().devices());
      bars.add(new Svg.Bar(a.run().name(), dev));
    }
    if (!bars.isEmpty()) {
      sb.append("<p class=\"note\">Device time per step by part (ms x devices):</p>\n")
          .append(Svg.stackedBars("comparison-bars", bars, StepBreakdown.PARTS, v -> String.format(Locale.ROOT, "%.1f ms", v)));
    }
    return sb.append("</section>\n").toString();
  }

  private static double tokensPerS(Analysis a) {
    if (a.run().summary() != null) return a.run().summary().tokensPerS();
    MetricsFile m = a.run().metrics();
    if (m == null || m.rows().isEmpty()) return Double.NaN;
    List<MetricsFile.Row> rows = m.rows().subList(RunSummary.firstSteady(m.rows().size()), m.rows().size());
    return rows.stream().mapToDouble(MetricsFile.Row::tokensPerS).average().orElse(Double.NaN);
  }

  private static double stepMs(Analysis a) {
    if (a.run().summary() != null) return a.run().summary().stepMs();
    return a.breakdown() != null ? a.breakdown().meanStepMs() : Double.NaN;
  }

  static final String CSS = """
      body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1250px; }
      h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.5em; } h3 { margin-top: 1.2em; }
      .meta, .note { color: #555; font-size: 0.9em; }
      .problems { background: #fff4e5; border: 1px solid #f0b36b; padding: 0.4em 1em; }
      .diagnosis li { margin: 0.3em 0; }
      .grid { display: flex; flex-wrap: wrap; gap: 1em; }
      figure { margin: 0; } figcaption { font-size: 0.85em; color: #444; text-align: center; }
      table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
      td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; } th { background: #f4f4f4; }
      table.summary th { text-align: left; }
      .timeline-box { display: flex; } .timeline-scroll { overflow: hidden; border: 1px solid #ddd; cursor: grab; }
      .zoom button { font-size: 0.8em; }
      """;

  /** Zoom and pan of the timeline through its viewBox; no network, no library. */
  static final String SCRIPT = """
      document.querySelectorAll('.timeline-section').forEach(function (section) {
        var svg = section.querySelector('svg.timeline');
        if (!svg) return;
        var full = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
        var x = 0, w = full;
        function apply() {
          w = Math.max(full / 1000, Math.min(full, w));
          x = Math.max(0, Math.min(full - w, x));
          svg.setAttribute('viewBox', x + ' 0 ' + w + ' ' + h);
        }
        function zoom(f, at) {
          var c = x + w * at;
          w = w * f;
          x = c - w * at;
          apply();
        }
        section.querySelectorAll('button[data-zoom]').forEach(function (b) {
          b.addEventListener('click', function () {
            var k = b.getAttribute('data-zoom');
            if (k === 'in') zoom(0.5, 0.5); else if (k === 'out') zoom(2, 0.5); else { x = 0; w = full; apply(); }
          });
        });
        svg.addEventListener('wheel', function (e) {
          e.preventDefault();
          var r = svg.getBoundingClientRect();
          zoom(e.deltaY < 0 ? 0.8 : 1.25, (e.clientX - r.left) / r.width);
        }, { passive: false });
        var drag = null;
        svg.addEventListener('mousedown', function (e) { drag = { at: e.clientX, x: x }; });
        window.addEventListener('mouseup', function () { drag = null; });
        window.addEventListener('mousemove', function (e) {
          if (!drag) return;
          var r = svg.getBoundingClientRect();
          x = drag.x - (e.clientX - drag.at) / r.width * w;
          apply();
        });
      });
      """;
}
