package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * The search: every valid layout of a job on {@code devices} devices, each judged by
 * {@link MemoryModel} and {@link TimeModel}; those that do not fit are kept aside with their reason,
 * the rest ranked by predicted tokens/s (ties: less memory first).
 *
 * <p>Validity (Megatron-LM's argument checks; Narayanan et al. 2021 section 3): dp tp pp cp = devices;
 * heads % tp == 0 and tp <= devices per node (TP's per-layer all-reduces need NVLink; lifted when tp is
 * fixed); context % cp == 0 with at least 64 tokens per rank, all-to-all CP also needs (heads/tp) % cp
 * == 0; layers >= pp (uneven stages allowed, the busiest holds ceil(L/p)); global batch % (dp x
 * micro-batch) == 0; interleaving needs micro-batches % pp == 0 and layers + 2 >= pp v (a model chunk per
 * virtual stage, the first and the last of which may hold only the embedding or the output layer, as Llama 3's
 * pipeline does: Dubey et al. 2024, section 3.3.2); tp must also divide the key/value heads.
 *
 * <p>Pruning: micro-batch sizes are the divisors of the per-replica batch up to 32 (at most six,
 * powers of two first: a larger micro-batch only adds activation memory once GEMMs are large); ZeRO
 * 1-3 only when the DP x CP group has more than one rank, and ZeRO 2-3 not with pipelining (DeepSpeed
 * does not combine them: gradients would be reduce-scattered per micro-batch per stage); SP only when
 * tp > 1; virtual stages 2..8. Only the best {@code keep} feasible and the {@code keep} smallest
 * infeasible layouts are kept, so memory stays flat for thousands of devices.
 */
public final class Planner {
  public static final int DEFAULT_KEEP = 200;
  static final int MAX_MICRO_BATCH = 32;
  static final int MAX_MICRO_BATCH_CHOICES = 6;
  static final int MAX_VIRTUAL_STAGES = 8;
  static final int MIN_TOKENS_PER_CP_RANK = 64;

  private final Job job;
  private final ClusterSpec cluster;
  private final int devices;
  private final Constraints fixed;
  private final int keep;
  private final boolean overlapDp;
  private java.util.function.Predicate<Layout> supported = l -> true;
  private String unsupportedNote = "not supported";

  public Planner(Job job, ClusterSpec cluster, int devices) {
    this(job, cluster, devices, Constraints.NONE, DEFAULT_KEEP, true);
  }

  public Planner(Job job, ClusterSpec cluster, int devices, Constraints fixed, int keep, boolean overlapDp) {
    if (devices <= 0) throw new WeftInputException("--num-devices must be positive, got " + devices + ".");
    this.job = job;
    this.cluster = cluster;
    this.devices = devices;
    this.fixed = fixed == null ? Constraints.NONE : fixed;
    this.keep = Math.max(1, keep);
    this.overlapDp = overlapDp;
  }

  /**
   * Only layouts {@code filter} accepts are evaluated (e.g. what Weft's runtime can run); the others are
   * noted among the rejections with {@code why}.
   */
  public Planner onlySupported(java.util.function.Predicate<Layout> filter, String why) {
    this.supported = filter;
    this.unsupportedNote = why;
    return this;
  }

  /** Convenience: the plan for a job on a cluster with nothing fixed. */
  public static Plan plan(Job job, ClusterSpec cluster, int devices) {
    return new Planner(job, cluster, devices).plan();
  }

  public static Plan plan(Job job, ClusterSpec cluster, int devices, Constraints fixed) {
    return new Planner(job, cluster, devices, fixed, DEFAULT_KEEP, true).plan();
  }

  /** Evaluates one given layout (no search). */
  public static Candidate evaluate(Job job, Layout layout, ClusterSpec cluster, boolean overlapDp) {
    return Candidate.of(job, layout, cluster, MemoryModel.estimate(job, layout),
        TimeModel.estimate(job, layout, cluster, overlapDp));
  }

  /**
   * Ranking: throughput in 0.2% buckets (closer than the model's resolution counts as a tie), then the
   * simpler layout (lower ZeRO stage, no CP, plain schedule: fewer moving parts for the same speed),
   * then less memory.
   */
  static final Comparator<Candidate> BEST_FIRST = Comparator
      .comparingLong((Candidate c) -> -(long) Math.floor(Math.log(c.tokensPerSecond()) / Math.log(1.002)))
      .thenComparingInt(Planner::complexity)
      .thenComparingLong(c -> c.memory().total());

  static int complexity(Candidate c) {
    Layout l = c.layout();
    int s = l.schedule() == Schedule.INTERLEAVED || l.schedule() == Schedule.ZB_H1 ? 1 : 0;
    return l.zero() + (l.cp() > 1 ? 2 : 0) + s;
  }
  static final Comparator<Candidate> SMALLEST_FIRST = Comparator.comparingLong((Candidate c) -> c.memory().total())
      .thenComparingDouble(c -> -c.tokensPerSecond());

  public Plan plan() {
    long started = System.nanoTime();
    ModelDims model = job.shape();
    PriorityQueue<Candidate> best = new PriorityQueue<>(BEST_FIRST.reversed());
    PriorityQueue<Candidate> smallest = new PriorityQueue<>(SMALLEST_FIRST.reversed());
    Set<String> rejected = new LinkedHashSet<>();
    long evaluated = 0, feasibleCount = 0;
    int G = cluster.devicesPerNode();

    for (int tp : divisors(devices)) {
      if (!allowed(fixed.tp(), tp)) continue;
      if (model.heads() % tp != 0 || model.kvHeads() % tp != 0) {
        note(rejected, "tp=" + tp + " does not divide the " + model.heads() + " heads"
            + (model.kvHeads() != model.heads() ? " and " + model.kvHeads() + " key/value heads" : ""));
        continue;
      }
      if (fixed.tp() == null && tp > G) {
        note(rejected, "tp=" + tp + " spans more than one node of " + G + " devices");
        continue;
      }
      for (int cp : divisors(devices / tp)) {
        if (!allowed(fixed.cp(), cp)) continue;
        if (model.seq() % cp != 0 || (cp > 1 && model.seq() / cp < MIN_TOKENS_PER_CP_RANK)) {
          note(rejected, "cp=" + cp + " does not split the context " + model.seq() + " into chunks of at least "
              + MIN_TOKENS_PER_CP_RANK);
          continue;
        }
        for (int pp : divisors(devices / (tp * cp))) {
          if (!allowed(fixed.pp(), pp)) continue;
          if (pp > model.layers()) {
            note(rejected, "pp=" + pp + " exceeds the " + model.layers() + " layers");
            continue;
          }
          int dp = devices / (tp * cp * pp);
          if (!allowed(fixed.dp(), dp)) continue;
          if (job.globalBatch() % dp != 0) {
            note(rejected, "dp=" + dp + " does not divide the global batch " + job.globalBatch());
            continue;
          }
          int perReplica = job.globalBatch() / dp;
          for (int mb : microBatchChoices(perReplica)) {
            int m = perReplica / mb;
            for (Schedule sch : schedules(pp)) {
              for (int v : virtualStages(sch, pp, m, model.layers(), rejected)) {
                for (int zero : zeroStages(dp * cp, pp)) {
                  for (boolean sp : spChoices(tp)) {
                    for (Recompute rc : recomputes()) {
                      for (CpAlgorithm ca : cpAlgorithms(cp, model.heads() / tp, rejected)) {
                        Layout l = new Layout(dp, tp, pp, cp, zero, sp, mb, sch, v, rc, ca);
                        if (!supported.test(l)) {
                          note(rejected, unsupportedNote);
                          continue;
                        }
                        Candidate c = evaluate(job, l, cluster, overlapDp);
                        evaluated++;
                        if (c.feasible()) {
                          feasibleCount++;
                          offer(best, c);
                        } else {
                          offer(smallest, c);
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    List<Candidate> ranked = new ArrayList<>(best);
    ranked.sort(BEST_FIRST);
    List<Candidate> infeasible = new ArrayList<>(smallest);
    infeasible.sort(SMALLEST_FIRST);
    double elapsed = (System.nanoTime() - started) / 1e9;
    return new Plan(job, cluster, devices, fixed, ranked, infeasible, evaluated, feasibleCount,
        List.copyOf(rejected), elapsed);
  }

  private void offer(PriorityQueue<Candidate> heap, Candidate c) {
    heap.add(c);
    if (heap.size() > keep) heap.poll();
  }

  private static void note(Set<String> rejected, String why) {
    if (rejected.size() < 12) rejected.add(why);
  }

  private static boolean allowed(Integer fixedValue, int value) {
    return fixedValue == null || fixedValue == value;
  }

  List<Integer> microBatchChoices(int perReplica) {
    List<Integer> out = new ArrayList<>();
    if (fixed.microBatch() != null) {
      if (perReplica % fixed.microBatch() == 0) out.add(fixed.microBatch());
      return out;
    }
    for (int mb = 1; mb <= Math.min(perReplica, MAX_MICRO_BATCH); mb *= 2) if (perReplica % mb == 0) out.add(mb);
    for (int mb = 1; mb <= Math.min(perReplica, MAX_MICRO_BATCH) && out.size() < MAX_MICRO_BATCH_CHOICES; mb++) {
      if (perReplica % mb == 0 && !out.contains(mb)) out.add(mb);
    }
    return out;
  }

  List<Schedule> schedules(int pp) {
    List<Schedule> out = new ArrayList<>();
    if (pp == 1) {
      if (fixed.schedule() == null || fixed.schedule() == Schedule.NONE || fixed.schedule() == Schedule.ONE_F_ONE_B) {
        out.add(Schedule.NONE);
      }
      return out;
    }
    for (Schedule s : new Schedule[] {Schedule.GPIPE, Schedule.ONE_F_ONE_B, Schedule.INTERLEAVED, Schedule.ZB_H1}) {
      if (fixed.schedule() == null || fixed.schedule() == s) out.add(s);
    }
    return out;
  }

  List<Integer> virtualStages(Schedule s, int pp, int m, int layers, Set<String> rejected) {
    List<Integer> out = new ArrayList<>();
    if (s != Schedule.INTERLEAVED) {
      if (fixed.virtualStages() == null || fixed.virtualStages() == 1) out.add(1);
      return out;
    }
    if (m % pp != 0) {
      note(rejected, "interleaving needs the micro-batches per replica (" + m + ") to be a multiple of pp=" + pp);
      return out;
    }
    for (int v = 2; v <= MAX_VIRTUAL_STAGES && layers + 2 >= pp * v; v++) {
      if (allowed(fixed.virtualStages(), v)) out.add(v);
    }
    return out;
  }

  List<Integer> zeroStages(int group, int pp) {
    List<Integer> out = new ArrayList<>();
    int max = group == 1 ? 0 : pp > 1 ? 1 : 3;
    for (int z = 0; z <= max; z++) if (allowed(fixed.zero(), z)) out.add(z);
    if (out.isEmpty() && fixed.zero() != null && fixed.zero() > 0 && group == 1) out.add(0); // ZeRO over 1 rank is 0
    return out;
  }

  List<Boolean> spChoices(int tp) {
    List<Boolean> out = new ArrayList<>();
    if (tp == 1) {
      out.add(false);
      return out;
    }
    for (boolean b : new boolean[] {true, false}) if (fixed.sp() == null || fixed.sp() == b) out.add(b);
    return out;
  }

  List<Recompute> recomputes() {
    return fixed.recompute() != null ? List.of(fixed.recompute()) : List.of(Recompute.values());
  }

  List<CpAlgorithm> cpAlgorithms(int cp, int headsPerTp, Set<String> rejected) {
    if (cp == 1) return List.of(CpAlgorithm.RING);
    List<CpAlgorithm> out = new ArrayList<>();
    for (CpAlgorithm a : CpAlgorithm.values()) {
      if (fixed.cpAlgorithm() != null && fixed.cpAlgorithm() != a) continue;
      if (a == CpAlgorithm.ALL_TO_ALL && headsPerTp % cp != 0) {
        note(rejected, "all-to-all cp=" + cp + " needs heads/tp=" + headsPerTp + " divisible by cp");
        continue;
      }
      out.add(a);
    }
    return out;
  }

  static List<Integer> divisors(int n) {
    List<Integer> out = new ArrayList<>();
    for (int i = 1; i <= n; i++) if (n % i == 0) out.add(i);
    return out;
  }
}
