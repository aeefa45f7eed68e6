package dev.weft.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.weft.cli.Main;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.select.Elements;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code weft train --run-dir} then {@code weft report}: the HTML is parsed (jsoup) and every chart must carry
 * the run's own data points (read back from the pixels too); on a deliberately bad layout (pp 4 with 4
 * micro-batches) the diagnosis must name the bubble and the planner's fix; damaged folders are reported, not
 * refused; and the page opens in a real headless browser without console errors when one is installed.
 */
class HtmlReportTest {
  @TempDir static Path dir;
  static Path data, single, piped, report, compare;

  static final String[] TINY = {"--layers", "4", "--d-model", "16", "--heads", "2", "--context", "16", "--threads", "1",
      "--eval-batches", "1", "--eval-every", "2", "--steps", "5", "--batch", "4", "--micro-batch", "1"};

  record Run(int code, String err) {}

  static Run weft(String... args) {
    StringWriter sw = new StringWriter();
    int code = Main.execute(new PrintWriter(sw, true), args);
    return new Run(code, sw.toString());
  }

  static String[] train(Path runDir, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--data", data.toString(), "--run-dir", runDir.toString()));
    a.addAll(Arrays.asList(TINY));
    a.addAll(Arrays.asList(extra));
    return a.toArray(String[]::new);
  }

  @BeforeAll
  static void twoRunsAndTheirReports() throws IOException {
    data = dir.resolve("data.txt");
    SplittableRandom r = new SplittableRandom(3);
    StringBuilder sb = new StringBuilder();
    String[] words = {"class", "int", "return", "void", "static", "final", "new", "public"};
    while (sb.length() < 40_000) sb.append(words[r.nextInt(words.length)]).append(r.nextInt(7) == 0 ? ";\n" : " ");
    Files.writeString(data, sb);
    single = dir.resolve("single");
    piped = dir.resolve("pp4");
    Run a = weft(train(single));
    assertThat(a.code()).as(a.err()).isZero();
    Run b = weft(train(piped, "--pp", "4", "--schedule", "gpipe", "--no-mfu"));
    assertThat(b.code()).as(b.err()).isZero();
    Run c = weft("report", single.toString());
    assertThat(c.code()).as(c.err()).isZero();
    report = single.resolve("report.html");
    compare = dir.resolve("compare.html");
    Run d = weft("report", single.toString(), piped.toString(), "--out", compare.toString());
    assertThat(d.code()).as(d.err()).isZero();
  }

  static Document parse(Path html) throws IOException {
    return Jsoup.parse(html.toFile(), "UTF-8");
  }

  static List<MetricsFile.Row> metrics(Path run) throws IOException {
    return MetricsFile.read(run.resolve("metrics.jsonl")).rows();
  }

  static double[] numbers(String spaceSeparated) {
    return Arrays.stream(spaceSeparated.trim().split("\\s+")).mapToDouble(Double::parseDouble).toArray();
  }

  /**
   * Checks the chart {@code id}'s series {@code name}: one point per step with a finite value, the raw values
   * as in the metrics, and the pixels mapping back to those values.
   */
  static void checkSeries(Document doc, String id, String name, List<MetricsFile.Row> rows,
                          ToDoubleFunction<MetricsFile.Row> value) {
    Element svg = doc.getElementById(id);
    assertThat(svg).as("chart %s", id).isNotNull();
    Element line = svg.selectFirst("polyline[data-series=" + name + "]");
    assertThat(line).as("series %s of %s", name, id).isNotNull();
    List<Double> expected = new ArrayList<>();
    List<Double> steps = new ArrayList<>();
    for (MetricsFile.Row r : rows) {
      double v = value.applyAsDouble(r);
      if (Double.isFinite(v)) {
        expected.add(v);
        steps.add((double) r.step());
      }
    }
    double[] values = numbers(line.attr("data-values"));
    double[] stepAttr = numbers(line.attr("data-steps"));
    String[] points = line.attr("points").trim().split("\\s+");
    assertThat(points).hasSize(expected.size());
    assertThat(values).hasSize(expected.size());
    double y0 = Double.parseDouble(svg.attr("data-y0")), y1 = Double.parseDouble(svg.attr("data-y1"));
    double x0 = Double.parseDouble(svg.attr("data-x0")), x1 = Double.parseDouble(svg.attr("data-x1"));
    double top = Double.parseDouble(svg.attr("data-top")), ph = Double.parseDouble(svg.attr("data-plot-h"));
    double left = Double.parseDouble(svg.attr("data-left")), pw = Double.parseDouble(svg.attr("data-plot-w"));
    for (int i = 0; i < expected.size(); i++) {
      assertThat(values[i]).isCloseTo(expected.get(i), within(1e-12 * Math.max(1, Math.abs(expected.get(i)))));
      assertThat(stepAttr[i]).isEqualTo(steps.get(i));
      String[] xy = points[i].split(",");
      double fromPixels = y0 + (top + ph - Double.parseDouble(xy[1])) / ph * (y1 - y0);
      assertThat(fromPixels).as("%s point %d", id, i).isCloseTo(expected.get(i), within(0.01 * (y1 - y0) + 1e-12));
      double stepFromPixels = x0 + (Double.parseDouble(xy[0]) - left) / pw * (x1 - x0);
      assertThat(stepFromPixels).isCloseTo(steps.get(i), within(0.01 * (x1 - x0)));
    }
  }

  @Test
  void everyCurveHasOnePointPerStepWithTheRunsValues() throws IOException {
    Document doc = parse(report);
    List<MetricsFile.Row> rows = metrics(single);
    assertThat(rows).hasSize(5);
    checkSeries(doc, "run-0-loss", "loss", rows, MetricsFile.Row::loss);
    checkSeries(doc, "run-0-loss", "validation loss", rows, MetricsFile.Row::valLoss);
    checkSeries(doc, "run-0-lr", "lr", rows, MetricsFile.Row::lr);
    checkSeries(doc, "run-0-grad-norm", "grad norm", rows, MetricsFile.Row::gradNorm);
    checkSeries(doc, "run-0-tokens-per-s", "tokens/s", rows, MetricsFile.Row::tokensPerS);
    checkSeries(doc, "run-0-peak-memory", "device 0", rows, r -> r.peakBytesPerDevice()[0] / (1024.0 * 1024.0));
    // MFU: model FLOPs of a step over its time, over the matmul peak summary.json recorded.
    RunSummary s = RunSummary.parse(Files.readString(single.resolve("summary.json")));
    assertThat(s.mfu()).isNotNull();
    double flopsPerToken = s.modelGflopsPerS() * 1e9 / s.tokensPerS();
    checkSeries(doc, "run-0-mfu", "MFU %", rows,
        r -> 100 * flopsPerToken * 4 * 16 / (r.stepMs() / 1e3) / (s.matmulPeakGflops() * 1e9));
  }

  @Test
  void peakMemoryHasALinePerDeviceOnThePipeline() throws IOException {
    Document doc = parse(compare);
    List<MetricsFile.Row> rows = metrics(piped);
    for (int d = 0; d < 4; d++) {
      int dev = d;
      checkSeries(doc, "run-1-peak-memory", "device " + d, rows, r -> r.peakBytesPerDevice()[dev] / (1024.0 * 1024.0));
    }
    assertThat(doc.getElementById("run-1-mfu-missing")).as("--no-mfu says so instead of a chart").isNotNull();
  }

  @Test
  void breakdownHasABarPerRankBesideThePlannersThatSumsToTheStep() throws IOException {
    Document doc = parse(compare);
    Element svg = doc.getElementById("run-1-breakdown");
    Elements bars = svg.select("g.bar");
    assertThat(bars.stream().map(b -> b.attr("data-label")).toList())
        .containsExactly("rank 0", "rank 1", "rank 2", "rank 3", "planner (busiest stage)");
    Elements rows = doc.getElementById("run-1-breakdown-table").select("tr");
    for (int r = 0; r < 4; r++) {
      double step = Double.parseDouble(rows.get(r + 1).select("td").get(1).text());
      double sum = bars.get(r).select("rect.part").stream().mapToDouble(e -> Double.parseDouble(e.attr("data-value"))).sum();
      assertThat(sum).as("rank %d", r).isCloseTo(step, within(0.05 * step));
    }
    assertThat(bars.get(0).select("rect.part[data-part=bubble]")).isNotEmpty();
    assertThat(doc.getElementById("run-1-discrepancy").text()).startsWith("Largest discrepancy with the planner:");
  }

  @Test
  void memoryByCategoryIsMeasuredBesideThePlannersModel() throws IOException {
    Document doc = parse(compare);
    RunSummary s = RunSummary.parse(Files.readString(piped.resolve("summary.json")));
    Element svg = doc.getElementById("run-1-memory");
    for (int d = 0; d < 4; d++) {
      Element measured = svg.selectFirst("g.bar[data-label=device " + d + " measured]");
      Element planner = svg.selectFirst("g.bar[data-label=device " + d + " planner]");
      assertThat(measured).isNotNull();
      assertThat(planner).isNotNull();
      double mib = measured.select("rect.part").stream().mapToDouble(e -> Double.parseDouble(e.attr("data-value"))).sum();
      assertThat(mib * 1024 * 1024).isCloseTo(s.peakBytesPerDevice()[d], within(0.01 * s.peakBytesPerDevice()[d]));
      assertThat(measured.select("rect.part[data-part=weights]")).hasSize(1);
      assertThat(measured.select("rect.part[data-part=optimizer]")).hasSize(1);
    }
  }

  @Test
  void timelineHasARowPerRankOfEveryLayout() throws IOException {
    Document doc = parse(compare);
    assertThat(doc.getElementById("run-0-timeline").select("g.rank")).hasSize(1);
    Elements ranks = doc.getElementById("run-1-timeline").select("g.rank");
    assertThat(ranks).hasSize(4);
    for (Element r : ranks) {
      assertThat(r.select("rect.span[data-cat=compute]")).isNotEmpty();
      assertThat(r.select("rect.step")).isNotEmpty();
    }
    assertThat(doc.select("script").html()).contains("viewBox").doesNotContain("http");
    assertThat(doc.select("[src], link[href]")).as("nothing fetched").isEmpty();
  }

  @Test
  void diagnosisOfAFourStagePipelineOfFourMicroBatchesNamesTheBubbleAndThePlannersFix() throws IOException {
    Document doc = parse(compare);
    String d = doc.getElementById("run-1-diagnosis").text();
    assertThat(d).contains("The biggest loss of utilisation is the pipeline bubble");
    assertThat(d).containsPattern("The planner's better layout for 4 devices: .*predicted .* ms per step against "
        + ".* ms for this layout: [0-9.]+x faster");
    assertThat(d).doesNotContain("--pp 4 --schedule gpipe --micro-batch");
  }

  @Test
  void comparisonGivesScalingEfficiencyAndWhereTheExtraTimeWent() throws IOException {
    Document doc = parse(compare);
    Elements rows = doc.getElementById("comparison-table").select("tr");
    assertThat(rows).hasSize(3);
    assertThat(rows.get(1).selectFirst("td.efficiency").text()).isEqualTo("1.000");
    RunSummary a = RunSummary.parse(Files.readString(single.resolve("summary.json")));
    RunSummary b = RunSummary.parse(Files.readString(piped.resolve("summary.json")));
    double eff = Double.parseDouble(rows.get(2).selectFirst("td.efficiency").text());
    assertThat(eff).isCloseTo(b.tokensPerS() / 4 / a.tokensPerS(), within(0.002));
    assertThat(doc.getElementById("comparison-diagnosis").text()).contains("pp4: scaling efficiency").contains("went to");
  }

  @Test
  void aDamagedFolderIsReportedWithWhatItHas() throws IOException {
    Path bad = dir.resolve("damaged");
    Files.createDirectories(bad);
    Files.copy(single.resolve("config.json"), bad.resolve("config.json"));
    List<String> lines = Files.readAllLines(single.resolve("metrics.jsonl"));
    List<String> mixed = new ArrayList<>(lines);
    mixed.add(2, "this is not json");
    mixed.add("{\"step\": 6, \"loss\": 2.0"); // cut off by a crash
    Files.write(bad.resolve("metrics.jsonl"), mixed);
    String trace = Files.readString(single.resolve("trace.json"));
    Files.writeString(bad.resolve("trace.json"), trace.substring(0, trace.length() * 2 / 3));
    Run r = weft("report", bad.toString());
    assertThat(r.code()).as(r.err()).isZero();
    Document doc = parse(bad.resolve("report.html"));
    String problems = doc.getElementById("run-0-problems").text();
    assertThat(problems).contains("2 lines that are not metrics were skipped");
    assertThat(problems).contains("trace.json is truncated");
    assertThat(problems).contains("summary.json is missing");
    checkSeries(doc, "run-0-loss", "loss", metrics(single), MetricsFile.Row::loss);
    assertThat(doc.getElementById("run-0-timeline")).isNotNull();
  }

  @Test
  void aFolderWithoutARunIsRefused() throws IOException {
    Path empty = Files.createDirectories(dir.resolve("empty"));
    Run r = weft("report", empty.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("not a run folder").doesNotContain("Exception");
    Run missing = weft("report", dir.resolve("nowhere").toString());
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("is not a folder");
  }

  @Test
  void aRunDirThatHoldsARunIsRefusedAndLeftAsItWas() throws IOException {
    byte[] before = Files.readAllBytes(single.resolve("metrics.jsonl"));
    Run r = weft(train(single));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("already holds a run").contains("choose a new --run-dir or delete it")
        .doesNotContain("Exception");
    assertThat(Files.readAllBytes(single.resolve("metrics.jsonl"))).isEqualTo(before);
  }

  @Test
  void summaryKeepsMeasuredMemoryByCategoryBesideThePrediction() throws IOException {
    RunSummary s = RunSummary.parse(Files.readString(piped.resolve("summary.json")));
    assertThat(s.peakBytesPerDevice()).hasSize(4);
    for (int d = 0; d < 4; d++) {
      long sum = s.peakByCategory().get(d).values().stream().mapToLong(Long::longValue).sum();
      assertThat(sum).isEqualTo(s.peakBytesPerDevice()[d]);
    }
    assertThat(s.prediction().error()).isNull();
    assertThat(s.prediction().layout()).contains("pp=4");
    assertThat(s.prediction().bytesPerDevice()).hasSize(4);
    assertThat(s.prediction().stepRatio()).isCloseTo(s.stepMs() / s.prediction().stepMs(), within(1e-9));
    assertThat(Files.readString(piped.resolve("config.json"))).contains("\"pp\" : 4").contains("--run-dir");
    assertThat(TraceEvents.read(piped.resolve("trace.json")).truncated()).isFalse();
  }

  /** The first of chromium, chromium-browser, google-chrome on PATH, or null. */
  static Path browser() {
    for (String dirName : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      for (String name : new String[] {"chromium", "chromium-browser", "google-chrome"}) {
        Path p = Path.of(dirName, name);
        if (Files.isExecutable(p)) return p;
      }
    }
    return null;
  }

  @Test
  void theReportOpensInAHeadlessBrowserWithoutConsoleErrors() throws Exception {
    Path chrome = browser();
    Assumptions.assumeTrue(chrome != null, "chromium is absent (no chromium, chromium-browser or google-chrome on "
        + "PATH): the headless-browser check is skipped; install Debian's chromium to run it");
    Path profile = Files.createDirectories(dir.resolve("chrome-profile"));
    Path log = dir.resolve("chrome.log");
    Process p = new ProcessBuilder(chrome.toString(), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=2000", "--dump-dom", compare.toUri().toString())
        .redirectError(log.toFile()).start();
    String dom = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("chromium finished").isTrue();
    String stderr = Files.readString(log);
    assertThat(p.exitValue()).as(stderr).isZero();
    List<String> consoleErrors = stderr.lines()
        .filter(l -> l.contains("CONSOLE") && (l.contains("ERROR") || l.contains("Uncaught") || l.contains("Error")))
        .toList();
    assertThat(consoleErrors).as(stderr).isEmpty();
    assertThat(stderr).doesNotContain("Uncaught");
    Document d = Jsoup.parse(dom);
    assertThat(d.getElementById("run-1-timeline")).as("the browser built the page").isNotNull();
    assertThat(d.select("svg.chart")).hasSizeGreaterThanOrEqualTo(11);
  }
}
