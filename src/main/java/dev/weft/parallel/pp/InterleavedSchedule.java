package dev.weft.parallel.pp;

import static dev.weft.parallel.pp.Action.Kind.BACKWARD;
import static dev.weft.parallel.pp.Action.Kind.FORWARD;

import java.util.ArrayList;
import java.util.List;

/**
 * Interleaved 1F1B (Narayanan et al. 2021, Megatron-LM's virtual pipeline): each rank holds v model chunks,
 * chunk c of rank r being virtual stage c*p + r. A rank works through m*v (chunk, micro-batch) units; unit k
 * runs chunk (k mod pv) / p (reversed for backwards) on micro-batch (k / pv) * p + k mod p, i.e. each chunk
 * takes a group of p micro-batches before the next chunk does. Rank r:
 * <ul>
 *   <li>warm-up: w = min(m*v, 2(p - r - 1) + (v - 1) p) forward units;</li>
 *   <li>steady state: m*v - w pairs of one forward unit (w + i) then one backward unit (i);</li>
 *   <li>cool-down: the last w backward units.</li>
 * </ul>
 * Requires m % p == 0 (so m >= p), as Megatron-LM does: the groups of p micro-batches must tile m.
 * Bubble: (p-1)/(v m + p - 1) of the step, about v times less than 1F1B. Memory (Narayanan et al. 2021, and
 * checked by the tests): rank r stashes at most min(m v, w + 1) chunk activations, each 1/v of a full stage's;
 * on rank 0 that is ((v+1) p - 1) / v = p (1 + 1/v) - 1/v stage-activations, against 1F1B's p.
 */
public final class InterleavedSchedule {
  private InterleavedSchedule() {}

  public static Schedule generate(int p, int m, int v) {
    Schedules.checkShape("interleaved", p, m, v);
    int units = m * v;
    List<List<Action>> order = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      List<Action> l = new ArrayList<>();
      int warmup = warmup(p, m, v, r);
      // warm-up
      for (int k = 0; k < warmup; k++) l.add(unit(FORWARD, p, v, r, k));
      // steady state: 1F1B over units
      for (int i = 0; i < units - warmup; i++) {
        l.add(unit(FORWARD, p, v, r, warmup + i));
        l.add(unit(BACKWARD, p, v, r, i));
      }
      // cool-down
      for (int k = units - warmup; k < units; k++) l.add(unit(BACKWARD, p, v, r, k));
      order.add(l);
    }
    return Schedule.fromComputeOrder("interleaved", p, m, v, order);
  }

  /** Forward units rank r runs before its first backward. */
  public static int warmup(int p, int m, int v, int r) {
    return Math.min(m * v, 2 * (p - r - 1) + (v - 1) * p);
  }

  /** The peak number of stashed chunk activations on rank r (Narayanan et al. 2021): min(m v, warm-up + 1). */
  public static int peakStashedChunks(int p, int m, int v, int r) {
    return Math.min(m * v, warmup(p, m, v, r) + 1);
  }

  private static Action unit(Action.Kind kind, int p, int v, int r, int k) {
    int group = p * v;
    int chunk = (k % group) / p;
    if (kind != FORWARD) chunk = v - 1 - chunk;
    int mb = (k / group) * p + k % p;
    return Action.compute(kind, chunk * p + r, mb);
  }
}
