package dev.weft.parallel.pp;

import static dev.weft.parallel.pp.Action.Kind.BACKWARD;
import static dev.weft.parallel.pp.Action.Kind.FORWARD;

import java.util.ArrayList;
import java.util.List;

/**
 * Plain model parallelism: one micro-batch at a time goes forward through every stage and back before the next
 * one starts, so exactly one device is busy at any time. Every rank's list is F0 B0 F1 B1 ... F(m-1) B(m-1).
 * Bubble: each rank idles (p-1)/p of the step. Memory: one stashed micro-batch per rank.
 */
public final class NaiveSchedule {
  private NaiveSchedule() {}

  public static Schedule generate(int p, int m) {
    Schedules.checkShape("naive", p, m, 1);
    List<List<Action>> order = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      List<Action> l = new ArrayList<>();
      for (int mb = 0; mb < m; mb++) {
        l.add(Action.compute(FORWARD, r, mb));
        l.add(Action.compute(BACKWARD, r, mb));
      }
      order.add(l);
    }
    return Schedule.fromComputeOrder("naive", p, m, 1, order);
  }
}
