package dev.weft.parallel.pp;

import static dev.weft.parallel.pp.Action.Kind.BACKWARD;
import static dev.weft.parallel.pp.Action.Kind.FORWARD;

import java.util.ArrayList;
import java.util.List;

/**
 * GPipe (Huang et al. 2019): every rank runs all m forwards, then all m backwards (in micro-batch order).
 * Bubble: (p-1)/(m+p-1) of the step on every rank (fill and drain of both passes).
 * Memory: all m micro-batches are stashed at once on every rank, the peak being m.
 */
public final class GPipeSchedule {
  private GPipeSchedule() {}

  public static Schedule generate(int p, int m) {
    Schedules.checkShape("gpipe", p, m, 1);
    List<List<Action>> order = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      List<Action> l = new ArrayList<>();
      // all forwards
      for (int mb = 0; mb < m; mb++) l.add(Action.compute(FORWARD, r, mb));
      // all backwards
      for (int mb = 0; mb < m; mb++) l.add(Action.compute(BACKWARD, r, mb));
      order.add(l);
    }
    return Schedule.fromComputeOrder("gpipe", p, m, 1, order);
  }
}
