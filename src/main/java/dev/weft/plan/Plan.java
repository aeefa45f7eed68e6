package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.List;

/**
 * The planner's answer, as data: the feasible layouts best first ({@code ranked}, at most the search's
 * keep limit), the smallest infeasible ones with their reasons, how many layouts were evaluated and
 * fitted, the structural rejections met on the way, and the search time.
 */
public record Plan(Job job, ClusterSpec cluster, int devices, Constraints constraints, List<Candidate> ranked,
                   List<Candidate> infeasible, long evaluated, long feasibleCount, List<String> rejected,
                   double searchSeconds) {

  /** The winner; throws {@link WeftInputException} saying what would help when nothing fits. */
  public Candidate best() {
    requireFeasible();
    return ranked.get(0);
  }

  public Plan requireFeasible() {
    if (evaluated == 0) {
      throw new WeftInputException("no valid layout of " + devices + " devices for " + job.shape() + " with global batch "
          + job.globalBatch() + " and " + constraints.describe() + ": " + String.join("; ", rejected)
          + ". Fix fewer options, or change --num-devices or --global-batch so that the degrees divide them.");
    }
    if (ranked.isEmpty()) {
      Candidate s = infeasible.get(0);
      throw new WeftInputException("no layout of " + devices + " devices fits in " + Units.bytes(cluster.usableMemoryBytes())
          + " usable per device (" + cluster.name() + "); the smallest found, " + s.layout() + ", " + s.reason()
          + ". What would help: more devices (model states shrink with tp x pp and with ZeRO over dp), "
          + "--recompute full or selective, bf16 instead of fp32, a smaller --micro-batch or --context, "
          + "or fixing fewer options (" + constraints.describe() + ").");
    }
    return this;
  }
}
