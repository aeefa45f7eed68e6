package dev.weft.parallel.pp;

import static dev.weft.parallel.pp.Action.Kind.BACKWARD;
import static dev.weft.parallel.pp.Action.Kind.FORWARD;

import java.util.ArrayList;
import java.util.List;

/**
 * 1F1B (PipeDream-Flush, Narayanan et al. 2021): rank r
 * <ul>
 *   <li>warm-up: w = min(p - r - 1, m) forwards;</li>
 *   <li>steady state: m - w pairs of one forward (micro-batch w + i) then one backward (micro-batch i);</li>
 *   <li>cool-down: the last w backwards.</li>
 * </ul>
 * Bubble: the same as GPipe, (p-1)/(m+p-1). Memory: at most w + 1 = p - r micro-batches stashed on rank r
 * (at most p, against GPipe's m). m < p is allowed: the warm-up is then cut to m and the schedule degenerates
 * to GPipe on the early ranks, still correct.
 */
public final class OneFOneBSchedule {
  private OneFOneBSchedule() {}

  public static Schedule generate(int p, int m) {
    Schedules.checkShape("1f1b", p, m, 1);
    List<List<Action>> order = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      List<Action> l = new ArrayList<>();
      int warmup = Math.min(p - r - 1, m);
      // warm-up
      for (int mb = 0; mb < warmup; mb++) l.add(Action.compute(FORWARD, r, mb));
      // steady state: 1F1B
      for (int i = 0; i < m - warmup; i++) {
        l.add(Action.compute(FORWARD, r, warmup + i));
        l.add(Action.compute(BACKWARD, r, i));
      }
      // cool-down
      for (int mb = m - warmup; mb < m; mb++) l.add(Action.compute(BACKWARD, r, mb));
      order.add(l);
    }
    return Schedule.fromComputeOrder("1f1b", p, m, 1, order);
  }
}
