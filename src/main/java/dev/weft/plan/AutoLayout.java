package dev.weft.plan;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import java.nio.file.Path;

/**
 * {@code weft train --layout auto}: the best layout Weft's runtime can run for a model and batch on this
 * machine's local ranks, with the planner's explanation. The search is {@link Planner}'s on
 * {@link LocalMachine#cluster} (ranks sharing the machine's cores; memory per rank a share of the heap),
 * restricted to what the runtime supports ({@link #runtimeSupports}): fp32, full recomputation or none (not
 * with the zero-bubble schedule; selective has nothing to drop, attention being blockwise); ring or all-to-all
 * CP (not all-gather); ring CP needs context % (2 cp) == 0, all-to-all context % cp == 0 and
 * (heads / tp) % cp == 0; SP only with tp > 1 and then micro-batch x context / cp divisible by tp; tp
 * divides the heads (and 4 C); the micro-batch divides batch / dp; interleaving needs m % pp == 0 (the
 * planner's rules); and, last, the runtime's own {@link TrainConfig#validate()} must accept it.
 */
public final class AutoLayout {
  private AutoLayout() {
  }

  /** The chosen layout, its planner figures, the explanation, and the runtime's configuration of it. */
  public record Choice(Layout layout, Candidate candidate, String explanation, Parallelism parallelism,
                       Plan plan) {
    /** The micro-batch to put in TrainConfig. */
    public int microBatch() {
      return layout.microBatch();
    }
  }

  /**
   * The best feasible runtime-supported layout of {@code model} with global batch {@code batch} on
   * {@code devices} local ranks. Micro-batches are limited to [{@code minMicroBatch}, {@code maxMicroBatch}]
   * (0 for no limit; equal values fix it). {@code spec} describes the machine; null loads the saved
   * calibration (~/.weft/device.json) or, if none, {@link Calibration#defaultLocal()}.
   *
   * @throws WeftInputException when no layout is valid or none fits, saying what would help
   */
  public static Choice choose(ModelSpec model, int batch, int minMicroBatch, int maxMicroBatch, int devices,
                              DeviceSpec spec) {
    if (devices < 1) throw new WeftInputException("--devices must be positive, got " + devices + ".");
    if (maxMicroBatch > 0 && minMicroBatch > maxMicroBatch) {
      throw new WeftInputException("the micro-batch limits are empty: min " + minMicroBatch + " > max " + maxMicroBatch + ".");
    }
    DeviceSpec d = spec != null ? spec : Calibration.loadOrDefault(null);
    ClusterSpec cluster = LocalMachine.of(d).cluster(devices);
    Job job = new Job(model, batch, Precision.FP32);
    Constraints c = Constraints.NONE.withRecompute(Recompute.NONE);
    if (minMicroBatch > 0 && minMicroBatch == maxMicroBatch) c = c.withMicroBatch(minMicroBatch);
    Planner planner = new Planner(job, cluster, devices, c, Planner.DEFAULT_KEEP, true)
        .onlySupported(l -> runtimeSupports(model, batch, l) && (minMicroBatch <= 0 || l.microBatch() >= minMicroBatch)
                && (maxMicroBatch <= 0 || l.microBatch() <= maxMicroBatch),
            "layouts Weft's runtime cannot run yet, or micro-batches outside the limits, were skipped");
    Plan plan = planner.plan().requireFeasible();
    Candidate best = plan.best();
    return new Choice(best.layout(), best, Explainer.explain(plan), RuntimeComparison.parallelism(best.layout()), plan);
  }

  /** As {@link #choose(ModelSpec, int, int, int, int, DeviceSpec)} with the spec read from {@code deviceFile}. */
  public static Choice choose(ModelSpec model, int batch, int minMicroBatch, int maxMicroBatch, int devices,
                              Path deviceFile) {
    return choose(model, batch, minMicroBatch, maxMicroBatch, devices, Calibration.loadOrDefault(deviceFile));
  }

  /** Whether Weft's runtime can train {@code l} (class comment); ends with TrainConfig's own validation. */
  public static boolean runtimeSupports(ModelSpec m, int batch, Layout l) {
    if (!runtimeRuns(l)) return false;
    if (l.sp() && l.tp() == 1) return false;
    if (m.heads() % l.tp() != 0) return false;
    if (batch % l.dp() != 0 || (batch / l.dp()) % l.microBatch() != 0) return false;
    int T = m.context();
    if (l.cp() > 1) {
      if (l.cpAlgorithm() == CpAlgorithm.RING && T % (2 * l.cp()) != 0) return false;
      if (l.cpAlgorithm() == CpAlgorithm.ALL_TO_ALL && (T % l.cp() != 0 || (m.heads() / l.tp()) % l.cp() != 0)) {
        return false;
      }
    }
    if (l.sp() && ((long) l.microBatch() * (T / l.cp())) % l.tp() != 0) return false;
    if (l.schedule() == Schedule.INTERLEAVED && l.microBatches(batch) % l.pp() != 0) return false;
    if (l.schedule() == Schedule.INTERLEAVED && m.layers() < l.pp() * l.virtualStages()) return false; // a layer per chunk
    try {
      RuntimeComparison.Case c = new RuntimeComparison.Case(m, batch, l);
      c.trainConfig(1, null).validate();
      return true;
    } catch (WeftInputException | IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Whether the runtime has what {@code l} asks for, whatever the model: no selective recomputation (attention is
   * blockwise: nothing selective to drop), no all-gather context parallelism (the runtime has ring and all-to-all),
   * no full recomputation under the zero-bubble schedule. Cheap enough for every layout of a large search (what
   * {@code weft plan} filters with; {@link #runtimeSupports} adds the model's and batch's divisibility).
   */
  public static boolean runtimeRuns(Layout l) {
    if (l.recompute() == Recompute.SELECTIVE) return false;
    if (l.cp() > 1 && l.cpAlgorithm() == CpAlgorithm.ALL_GATHER) return false;
    return !(l.recompute() == Recompute.FULL && l.pp() > 1 && l.schedule() == Schedule.ZB_H1);
  }
}
