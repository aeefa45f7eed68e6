package dev.weft.plan;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Plain-language reasons for a plan: what the winner spends its step on and its memory on, why each
 * runner-up is slower, and why the three obvious alternatives at the same device count (pure data,
 * pure tensor, pure pipeline parallelism) lose or do not fit. Differences are read off the time
 * breakdowns (compute, pipeline bubble, TP/CP/PP/DP communication, optimizer) and memory breakdowns,
 * naming the biggest contributors.
 */
public final class Explainer {
  private Explainer() {
  }

  public static String explain(Plan plan) {
    return explain(plan, 3);
  }

  public static String explain(Plan plan, int runnerUps) {
    StringBuilder sb = new StringBuilder();
    Job job = plan.job();
    ClusterSpec cl = plan.cluster();
    sb.append("Words: DP copies the model and splits the batch; TP splits every matrix of a layer across ")
        .append("devices (and needs fast links); PP gives each device a slice of the layers and streams ")
        .append("micro-batches through them; CP splits the sequence; ZeRO shards optimizer state, gradients ")
        .append("and weights over the DP copies; SP shards the TP-replicated activations.\n\n");
    if (plan.ranked().isEmpty()) {
      sb.append("Nothing fits. ");
      if (!plan.infeasible().isEmpty()) {
        Candidate s = plan.infeasible().get(0);
        sb.append("The smallest layout, ").append(s.layout()).append(", ").append(s.reason()).append(".\n");
      }
      return sb.toString();
    }
    Candidate w = plan.ranked().get(0);
    sb.append("Winner: ").append(w.layout()).append('\n');
    sb.append("  ").append(summary(w, cl)).append('\n');
    sb.append("  Its step: ").append(timeShares(w)).append(".\n");
    sb.append("  Its memory: ").append(memoryShares(w, cl)).append(".\n");
    sb.append("  Why it wins: ").append(whyGood(w, job)).append("\n\n");

    int shown = 0;
    for (int i = 1; i < plan.ranked().size() && shown < runnerUps; i++) {
      Candidate r = plan.ranked().get(i);
      if (i == 1) sb.append("Runner-ups:\n");
      sb.append(String.format(Locale.ROOT, "  #%d %s: %s slower; %s.%n", i + 1, r.layout(),
          Units.pct(w.tokensPerSecond() / r.tokensPerSecond() - 1), differences(w, r, cl)));
      shown++;
    }
    sb.append("\nThe obvious alternatives on ").append(plan.devices()).append(" devices:\n");
    alternative(sb, plan, "pure data parallelism (dp=" + plan.devices() + ")",
        Constraints.NONE.withDp(plan.devices()), w);
    alternative(sb, plan, "pure tensor parallelism (tp=" + plan.devices() + ")",
        Constraints.NONE.withTp(plan.devices()).withDp(1).withPp(1).withCp(1), w);
    alternative(sb, plan, "pure pipeline parallelism (pp=" + plan.devices() + ")",
        Constraints.NONE.withPp(plan.devices()).withDp(1).withTp(1).withCp(1), w);
    return sb.toString();
  }

  private static void alternative(StringBuilder sb, Plan plan, String name, Constraints c, Candidate w) {
    if (plan.constraints().recompute() != null) c = c.withRecompute(plan.constraints().recompute());
    Plan alt = new Planner(plan.job(), plan.cluster(), plan.devices(), c, 5, true).plan();
    sb.append("  ").append(name).append(": ");
    if (alt.evaluated() == 0) {
      sb.append("not a valid layout: ").append(alt.rejected().isEmpty() ? "its degrees do not divide the job"
          : String.join("; ", alt.rejected())).append(".\n");
    } else if (alt.ranked().isEmpty()) {
      Candidate s = alt.infeasible().get(0);
      sb.append("does not fit even at its smallest (").append(s.layout()).append("): ").append(s.reason())
          .append(".\n");
    } else {
      Candidate a = alt.ranked().get(0);
      if (a.layout().equals(w.layout())) {
        sb.append("this is the winner.\n");
      } else {
        sb.append(String.format(Locale.ROOT, "best is %s at %s tokens/s, %s slower; %s.%n", a.layout(),
            Units.count(a.tokensPerSecond()), Units.pct(w.tokensPerSecond() / a.tokensPerSecond() - 1),
            differences(w, a, plan.cluster())));
      }
    }
  }

  static String summary(Candidate c, ClusterSpec cl) {
    return String.format(Locale.ROOT, "%s tokens/s, step %s, %.1f TFLOP/s per device, MFU %s, %s of %s usable",
        Units.count(c.tokensPerSecond()), Units.seconds(c.time().step()), c.tflopsPerDevice(), Units.pct(c.mfu()),
        Units.bytes(c.memory().total()), Units.bytes(cl.usableMemoryBytes()));
  }

  static String timeShares(Candidate c) {
    TimeModel.Breakdown t = c.time();
    List<String> parts = new ArrayList<>();
    add(parts, "compute", t.compute(), t.step());
    add(parts, "pipeline bubble", t.bubble(), t.step());
    add(parts, "TP communication", t.tpComm(), t.step());
    add(parts, "CP communication (exposed)", t.cpComm(), t.step());
    add(parts, "PP send/receive", t.ppComm(), t.step());
    add(parts, "DP gradient sync (exposed; " + Units.seconds(t.dpCommTotal()) + " in all)", t.dpCommExposed(), t.step());
    add(parts, "optimizer", t.optimizer(), t.step());
    return String.join(", ", parts);
  }

  private static void add(List<String> parts, String name, double x, double step) {
    if (x > 0.0005 * step) parts.add(name + " " + Units.seconds(x) + " (" + Units.pct(x / step) + ")");
  }

  static String memoryShares(Candidate c, ClusterSpec cl) {
    MemoryModel.Breakdown m = c.memory();
    return "weights " + Units.bytes(m.weights()) + ", gradients " + Units.bytes(m.gradients()) + ", optimizer "
        + Units.bytes(m.optimizer()) + ", activations " + Units.bytes(m.activations()) + ", embedding/logits "
        + Units.bytes(m.embeddingLogits()) + (m.backwardScratch() > 0 ? ", backward scratch "
        + Units.bytes(m.backwardScratch()) : "") + ", buffers " + Units.bytes(m.commBuffers())
        + " (stage " + m.stage() + " is the fullest)";
  }

  static String whyGood(Candidate w, Job job) {
    Layout l = w.layout();
    List<String> why = new ArrayList<>();
    TimeModel.Breakdown t = w.time();
    why.add(Units.pct(t.compute() / t.step()) + " of its step is arithmetic");
    if (l.tp() > 1) why.add("tp=" + l.tp() + " keeps each layer's all-reduces on one node's fast links");
    if (l.pp() > 1) {
      int m = l.microBatches(job.globalBatch());
      why.add("pp=" + l.pp() + " with " + m + " micro-batches of " + l.microBatch() + " and " + l.schedule().cliName()
          + (l.schedule() == Schedule.INTERLEAVED ? " (v=" + l.virtualStages() + ")" : "")
          + " idles only " + Units.pct(t.bubble() / t.step()));
    }
    if (l.dp() > 1) why.add("dp=" + l.dp() + " multiplies throughput with gradient sync "
        + (t.dpCommExposed() < 0.5 * t.dpCommTotal() ? "mostly hidden under backward" : "costing "
        + Units.pct(t.dpCommExposed() / t.step())));
    if (l.zero() > 0) why.add("ZeRO-" + l.zero() + " shards model states to make room");
    if (l.recompute() != Recompute.NONE) why.add("recompute=" + l.recompute().cliName()
        + " is needed to fit activations (it costs " + Units.pct(
        (t.hardwareFlops() - t.modelFlops()) / t.hardwareFlops()) + " of the arithmetic)");
    else why.add("no recomputation is needed, so no arithmetic is repeated");
    return String.join("; ", why) + ".";
  }

  /** Why {@code other} is slower than the winner {@code w}: the parts of its step that grew most. */
  static String differences(Candidate w, Candidate other, ClusterSpec cl) {
    TimeModel.Breakdown a = w.time(), b = other.time();
    String[] names = {"compute", "pipeline bubble", "TP communication", "CP communication", "PP send/receive",
        "exposed DP gradient sync", "optimizer"};
    double[] da = {a.compute(), a.bubble(), a.tpComm(), a.cpComm(), a.ppComm(), a.dpCommExposed(), a.optimizer()};
    double[] db = {b.compute(), b.bubble(), b.tpComm(), b.cpComm(), b.ppComm(), b.dpCommExposed(), b.optimizer()};
    List<String> parts = new ArrayList<>();
    for (int pass = 0; pass < 3; pass++) {
      int bestI = -1;
      double bestD = 0.01 * a.step();
      for (int i = 0; i < names.length; i++) {
        double d = db[i] - da[i];
        if (d > bestD) {
          bestI = i;
          bestD = d;
        }
      }
      if (bestI < 0) break;
      parts.add(names[bestI] + " " + Units.seconds(db[bestI]) + " vs " + Units.seconds(da[bestI])
          + hint(bestI, other.layout(), w.layout()));
      db[bestI] = da[bestI];
    }
    String mem = "memory " + Units.bytes(other.memory().total()) + " vs " + Units.bytes(w.memory().total());
    if (parts.isEmpty()) return "about the same step time; " + mem;
    return String.join(", ", parts) + "; " + mem;
  }

  private static String hint(int part, Layout o, Layout w) {
    return switch (part) {
      case 0 -> o.recompute() != w.recompute() ? " (recompute=" + o.recompute().cliName() + " repeats forward work)"
          : o.tp() != w.tp() || o.sp() != w.sp() ? " (memory-bound kernels on TP-replicated activations, tp="
          + o.tp() + (o.sp() ? " sp" : " no-sp") + ")"
          : o.pp() != w.pp() ? " (uneven layer split: the busiest stage holds more layers)" : "";
      case 1 -> " (pp=" + o.pp() + ", " + o.schedule().cliName() + ")";
      case 2 -> " (tp=" + o.tp() + (o.tp() > 8 ? ", across nodes" : "") + ")";
      case 5 -> " (ZeRO-" + o.zero() + ", dp=" + o.dp() + ")";
      default -> "";
    };
  }
}
