package dev.weft.parallel.pp;

import dev.weft.parallel.Parallelism;
import static dev.weft.parallel.pp.Action.Kind.BACKWARD_INPUT;
import static dev.weft.parallel.pp.Action.Kind.BACKWARD_WEIGHT;
import static dev.weft.parallel.pp.Action.Kind.FORWARD;

import java.util.ArrayList;
import java.util.List;

/**
 * ZB-H1 (Qi et al. 2023, "Zero Bubble Pipeline Parallelism"): 1F1B with the backward split into BI (input
 * gradient, on the critical path) and BW (weight gradient, deferrable). Rank r
 * <ul>
 *   <li>warm-up: w = min(p - r - 1, m) forwards, as in 1F1B;</li>
 *   <li>steady state: m - w steps of F(w + i), BI(i), then BW(i - r) once i >= r: rank r holds back r weight
 *       passes;</li>
 *   <li>cool-down: the last w BIs, each followed by one BW while r stay held back, then the r held-back BWs,
 *       which fill the tail that 1F1B leaves idle (rank r's last BI ends about r BI-times before rank 0's).</li>
 * </ul>
 * Bubble: about (p-1)(F + BI - BW) against 1F1B's (p-1)(F + BI + BW), a third of it when F = BI = BW.
 * Memory: in flight (forwarded, not yet BI) at most p - r on rank r, as 1F1B; stashed until BW at most p on
 * every rank, which is 1F1B's peak (rank 0's). Any m >= 1 works; the bubble saving needs m >= p.
 */
public final class ZeroBubbleH1Schedule {
  private ZeroBubbleH1Schedule() {}

  public static Schedule generate(int p, int m) {
    Schedules.checkShape("zb", p, m, 1);
    List<List<Action>> order = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      List<Action> l = new ArrayList<>();
      int warmup = Math.min(p - r - 1, m);
      int nextW = 0;
      // warm-up
      for (int mb = 0; mb < warmup; mb++) l.add(Action.compute(FORWARD, r, mb));
      // steady state: F, BI, and a BW held back by r
      for (int i = 0; i < m - warmup; i++) {
        l.add(Action.compute(FORWARD, r, warmup + i));
        l.add(Action.compute(BACKWARD_INPUT, r, i));
        if (i >= r) l.add(Action.compute(BACKWARD_WEIGHT, r, nextW++));
      }
      // cool-down: each BI is followed by one BW as long as r stay held back
      for (int mb = m - warmup; mb < m; mb++) {
        l.add(Action.compute(BACKWARD_INPUT, r, mb));
        if (nextW <= mb - r) l.add(Action.compute(BACKWARD_WEIGHT, r, nextW++));
      }
      // the remaining BWs fill the tail bubble
      while (nextW < m) l.add(Action.compute(BACKWARD_WEIGHT, r, nextW++));
      order.add(l);
    }
    return Schedule.fromComputeOrder("zb", p, m, 1, order);
  }
}
