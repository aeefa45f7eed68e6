package dev.weft.trace;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Where each rank's step time went, measured from a trace of {@code weft train} (Holistic Trace Analysis
 * style: every instant of a rank's step is given to exactly one part, so the parts sum to the rank's step).
 * A step is the rank's {@code step N} span; inside it the rank's spans are swept in time order and each
 * instant goes to the first that applies:
 * <ol>
 * <li>a {@code wait <axis>} span (an exposed communication wait, recorded by the communicator): that axis's
 *     communication (dp, tp, cp); a pp wait is the pipeline bubble (the stage waits for a neighbour's
 *     work: in a {@code recv}, or at the step's end for the other stages to drain, in the tied embedding's
 *     and the loss's reductions over the stages) unless it is inside a {@code send} only: then pp;
 * <li>an {@code optimizer} span: optimizer;
 * <li>a {@code compute} span (forward, backward, weight pass): compute;
 * <li>a {@code comm} span with no exposed wait under it: {@code recv} bubble, {@code send} pp, else dp
 *     (the gradient sync's own bookkeeping);
 * <li>nothing: on a pipeline rank, between its first and last pipeline span, bubble; otherwise other
 *     (the loss and norm reductions' own work, the learning rate, the step's bookkeeping).
 * </ol>
 * Load imbalance: of a rank's dp wait, the part explained by slower peers, {@code min(dp wait, max over
 * its DP x CP group of (compute + optimizer) - its own)}, moves from dp to imbalance.
 * Figures are means over the steady steps (all but the first when there are more than two).
 */
public record StepBreakdown(List<RankParts> ranks, List<Integer> steps) {
  /** The parts, in the order reports show them. */
  public static final List<String> PARTS = List.of("compute", "bubble", "dp", "tp", "cp", "pp", "imbalance",
      "optimizer", "other");

  /** One rank's mean step (ms) and its parts (ms, keyed by {@link #PARTS}). */
  public record RankParts(int rank, double stepMs, Map<String, Double> partsMs) {
    public double sumMs() {
      return partsMs.values().stream().mapToDouble(Double::doubleValue).sum();
    }
  }

  private static final int W_DP = 0, W_TP = 1, W_CP = 2, W_PP = 3, OPT = 4, COMPUTE = 5, RECV = 6, SEND = 7,
      SYNC = 8, KINDS = 9;

  /**
   * The breakdown of every rank of a trace of a run laid out as dp x tp x pp x cp (the degrees fix the
   * DP x CP groups of the imbalance). Ranks or steps without spans are left out; no step spans: empty.
   */
  public static StepBreakdown of(TraceEvents trace, int dp, int tp, int pp, int cp) {
    Map<Integer, List<TraceEvents.Span>> byRank = new TreeMap<>();
    TreeSet<Integer> stepNumbers = new TreeSet<>();
    for (TraceEvents.Span s : trace.spans()) {
      byRank.computeIfAbsent(s.rank(), k -> new ArrayList<>()).add(s);
      if (s.cat().equals("step")) stepNumbers.add(s.args() == null ? -1 : s.args().path("step").asInt(-1));
    }
    List<Integer> steady = new ArrayList<>(stepNumbers);
    if (steady.size() > 2) steady.remove(0);
    Map<Integer, Map<Integer, double[]>> perRankStep = new TreeMap<>(); // rank -> step -> parts by index + step
    for (var e : byRank.entrySet()) {
      List<TraceEvents.Span> spans = e.getValue();
      for (TraceEvents.Span st : spans) {
        if (!st.cat().equals("step")) continue;
        int n = st.args() == null ? -1 : st.args().path("step").asInt(-1);
        if (!steady.contains(n)) continue;
        perRankStep.computeIfAbsent(e.getKey(), k -> new TreeMap<>()).put(n, sweep(spans, st, pp > 1));
      }
    }
    int world = dp * tp * pp * cp;
    ParallelLayout mesh = world > 0 && perRankStep.keySet().stream().allMatch(r -> r < world)
        ? ParallelLayout.of(dp, pp, cp, tp, world) : null;
    // Imbalance, step by step, within each DP x CP group.
    if (mesh != null && dp * cp > 1) {
      for (var re : perRankStep.entrySet()) {
        int rank = re.getKey();
        for (var se : re.getValue().entrySet()) {
          double[] mine = se.getValue();
          double maxBusy = busy(mine);
          for (int q : mesh.groupRanks(rank, Axis.DP, Axis.CP)) {
            double[] other = perRankStep.getOrDefault(q, Map.of()).get(se.getKey());
            if (other != null) maxBusy = Math.max(maxBusy, busy(other));
          }
          double imb = Math.min(mine[index("dp")], maxBusy - busy(mine));
          mine[index("dp")] -= imb;
          mine[index("imbalance")] += imb;
        }
      }
    }
    List<RankParts> out = new ArrayList<>();
    for (var re : perRankStep.entrySet()) {
      double[] sum = new double[PARTS.size() + 1];
      for (double[] v : re.getValue().values()) for (int i = 0; i < sum.length; i++) sum[i] += v[i];
      int k = re.getValue().size();
      Map<String, Double> parts = new LinkedHashMap<>();
      for (int i = 0; i < PARTS.size(); i++) parts.put(PARTS.get(i), sum[i] / k);
      out.add(new RankParts(re.getKey(), sum[PARTS.size()] / k, parts));
    }
    return new StepBreakdown(List.copyOf(out), List.copyOf(steady));
  }

  private static int index(String part) {
    return PARTS.indexOf(part);
  }

  private static double busy(double[] parts) {
    return parts[index("compute")] + parts[index("optimizer")];
  }

  /** One step of one rank: parts (ms) by {@link #PARTS} index, then the step's length. */
  private static double[] sweep(List<TraceEvents.Span> spans, TraceEvents.Span step, boolean pipeline) {
    double s0 = step.startMs(), s1 = step.endMs();
    List<double[]> edges = new ArrayList<>(); // {time, +1/-1, kind}
    double pipeFrom = Double.MAX_VALUE, pipeTo = -Double.MAX_VALUE;
    for (TraceEvents.Span s : spans) {
      double a = Math.max(s0, s.startMs()), b = Math.min(s1, s.endMs());
      if (!(b > a)) continue;
      int kind = kind(s);
      if (kind < 0) continue;
      edges.add(new double[] {a, 1, kind});
      edges.add(new double[] {b, -1, kind});
      if (kind == COMPUTE || kind == RECV || kind == SEND) {
        pipeFrom = Math.min(pipeFrom, a);
        pipeTo = Math.max(pipeTo, b);
      }
    }
    edges.sort((x, y) -> x[0] != y[0] ? Double.compare(x[0], y[0]) : Double.compare(x[1], y[1]));
    int[] active = new int[KINDS];
    double[] parts = new double[PARTS.size() + 1];
    double t = s0;
    for (double[] ev : edges) {
      add(parts, active, t, ev[0], pipeline, pipeFrom, pipeTo);
      t = ev[0];
      active[(int) ev[2]] += (int) ev[1];
    }
    add(parts, active, t, s1, pipeline, pipeFrom, pipeTo);
    parts[PARTS.size()] = s1 - s0;
    return parts;
  }

  private static void add(double[] parts, int[] active, double from, double to, boolean pipeline, double pipeFrom,
                          double pipeTo) {
    if (!(to > from)) return;
    parts[index(classify(active, pipeline, from, to, pipeFrom, pipeTo))] += to - from;
  }

  private static String classify(int[] a, boolean pipeline, double from, double to, double pipeFrom, double pipeTo) {
    if (a[W_PP] > 0) return a[SEND] > 0 && a[RECV] == 0 ? "pp" : "bubble";
    if (a[W_DP] > 0) return "dp";
    if (a[W_TP] > 0) return "tp";
    if (a[W_CP] > 0) return "cp";
    if (a[OPT] > 0) return "optimizer";
    if (a[COMPUTE] > 0) return "compute";
    if (a[RECV] > 0) return "bubble";
    if (a[SEND] > 0) return "pp";
    if (a[SYNC] > 0) return "dp";
    if (pipeline && from >= pipeFrom && to <= pipeTo) return "bubble";
    return "other";
  }

  private static int kind(TraceEvents.Span s) {
    switch (s.cat()) {
      case "wait" -> {
        return switch (s.arg("group")) {
          case "dp" -> W_DP;
          case "tp" -> W_TP;
          case "cp" -> W_CP;
          case "pp" -> W_PP;
          default -> -1;
        };
      }
      case "optimizer" -> {
        return OPT;
      }
      case "compute" -> {
        return COMPUTE;
      }
      case "comm" -> {
        if (s.name().startsWith("recv")) return RECV;
        if (s.name().startsWith("send")) return SEND;
        return SYNC;
      }
      default -> {
        return -1;
      }
    }
  }

  /** Whether the trace had step spans to analyse. */
  public boolean isEmpty() {
    return ranks.isEmpty();
  }

  /** The mean over ranks of each part (ms). */
  public Map<String, Double> meanPartsMs() {
    Map<String, Double> m = new LinkedHashMap<>();
    for (String p : PARTS) m.put(p, ranks.stream().mapToDouble(r -> r.partsMs().get(p)).average().orElse(0));
    return m;
  }

  /** The mean over ranks of the step (ms). */
  public double meanStepMs() {
    return ranks.stream().mapToDouble(RankParts::stepMs).average().orElse(Double.NaN);
  }

  /** The measured mean parts against the planner's ({@code predictedMs} keyed by {@link #PARTS}). */
  public Discrepancy compare(Map<String, Double> predictedMs) {
    Map<String, Double> measured = meanPartsMs();
    String worst = null;
    double worstDiff = -1;
    for (String p : PARTS) {
      double d = Math.abs(measured.get(p) - predictedMs.getOrDefault(p, 0.0));
      if (d > worstDiff) {
        worstDiff = d;
        worst = p;
      }
    }
    return new Discrepancy(worst, measured.get(worst), predictedMs.getOrDefault(worst, 0.0));
  }

  /** The part where measurement and prediction differ most (ms). */
  public record Discrepancy(String part, double measuredMs, double predictedMs) {
    @Override
    public String toString() {
      return String.format(java.util.Locale.ROOT, "%s: %.1f ms measured, %.1f ms predicted", part, measuredMs,
          predictedMs);
    }
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    for (RankParts r : ranks) {
      sb.append("rank ").append(r.rank()).append(String.format(java.util.Locale.ROOT, " step %.1f ms:", r.stepMs()));
      for (var e : r.partsMs().entrySet()) {
        if (e.getValue() > 0) sb.append(String.format(java.util.Locale.ROOT, " %s %.1f", e.getKey(), e.getValue()));
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
