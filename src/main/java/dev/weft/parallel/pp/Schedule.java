package dev.weft.parallel.pp;

import java.util.ArrayList;
import java.util.List;

/**
 * A pipeline schedule as data: for each PP rank, the ordered list of {@link Action}s it runs in one training
 * step, plus the shape it was made for (p ranks, m micro-batches, v chunks per rank) and the generator's name.
 * Generators ({@link Schedules}) are pure functions producing one; {@link PipelineExecutor} runs any of them;
 * {@link ScheduleChecker} checks the invariants on the lists alone.
 *
 * <p>Placement: virtual stage s (0..p*v-1) lives on rank {@code s % p}; chunk c of rank r is stage c*p + r.
 */
public final class Schedule {
  private final String name;
  private final int p;
  private final int m;
  private final int v;
  private final List<List<Action>> ranks;

  public Schedule(String name, int p, int m, int v, List<List<Action>> perRank) {
    if (p < 1 || m < 1 || v < 1) throw new IllegalArgumentException("p, m, v must be >= 1: " + p + " " + m + " " + v);
    if (perRank.size() != p) throw new IllegalArgumentException(perRank.size() + " action lists for " + p + " ranks");
    this.name = name;
    this.p = p;
    this.m = m;
    this.v = v;
    List<List<Action>> copy = new ArrayList<>(p);
    for (List<Action> l : perRank) copy.add(List.copyOf(l));
    this.ranks = List.copyOf(copy);
  }

  /**
   * Builds a schedule from each rank's compute order (F, B, BI, BW only) by inserting the communication
   * mechanically: a receive right before a pass whose input comes from another rank, a send right after a pass
   * whose result goes to another rank. Neighbouring stages on the same rank (p = 1) exchange nothing: the
   * executor hands the buffer over locally. With buffered sends, such a list cannot deadlock as long as the
   * compute orders are consistent with the dependencies (which {@link ScheduleChecker#simulate} proves).
   */
  public static Schedule fromComputeOrder(String name, int p, int m, int v, List<List<Action>> computeOrder) {
    int stages = p * v;
    List<List<Action>> out = new ArrayList<>(p);
    for (int r = 0; r < p; r++) {
      List<Action> list = new ArrayList<>();
      for (Action a : computeOrder.get(r)) {
        if (!a.kind().isCompute()) throw new IllegalArgumentException("compute order holds " + a);
        int s = a.stage();
        int mb = a.microBatch();
        switch (a.kind()) {
          case FORWARD -> {
            if (s > 0 && rankOf(s - 1, p) != r) list.add(Action.comm(Action.Kind.RECV_ACTIVATION, s, mb, rankOf(s - 1, p)));
            list.add(a);
            if (s < stages - 1 && rankOf(s + 1, p) != r) list.add(Action.comm(Action.Kind.SEND_ACTIVATION, s, mb, rankOf(s + 1, p)));
          }
          case BACKWARD, BACKWARD_INPUT -> {
            if (s < stages - 1 && rankOf(s + 1, p) != r) list.add(Action.comm(Action.Kind.RECV_GRADIENT, s, mb, rankOf(s + 1, p)));
            list.add(a);
            if (s > 0 && rankOf(s - 1, p) != r) list.add(Action.comm(Action.Kind.SEND_GRADIENT, s, mb, rankOf(s - 1, p)));
          }
          default -> list.add(a);
        }
      }
      out.add(list);
    }
    return new Schedule(name, p, m, v, out);
  }

  static int rankOf(int stage, int p) {
    return stage % p;
  }

  /** The generator's name: naive, gpipe, 1f1b, interleaved, zb. */
  public String name() { return name; }

  /** Pipeline ranks. */
  public int p() { return p; }

  /** Micro-batches per step. */
  public int m() { return m; }

  /** Model chunks (virtual stages) per rank. */
  public int v() { return v; }

  /** Virtual stages in all: p * v. */
  public int stages() { return p * v; }

  /** The PP rank that owns virtual stage {@code stage}. */
  public int rankOf(int stage) {
    if (stage < 0 || stage >= stages()) throw new IllegalArgumentException("stage " + stage + " outside [0, " + stages() + ")");
    return rankOf(stage, p);
  }

  /** The ordered action list of PP rank {@code rank}. */
  public List<Action> actions(int rank) {
    return ranks.get(rank);
  }

  /** Only the compute actions of {@code rank}, in order. */
  public List<Action> computeActions(int rank) {
    return ranks.get(rank).stream().filter(a -> a.kind().isCompute()).toList();
  }

  /** "1f1b p=4 m=8 v=1". */
  public String describe() {
    return name + " p=" + p + " m=" + m + " v=" + v;
  }

  /** One line per rank with the compute order, e.g. {@code rank 0: F0.0 F0.1 B0.0 ...}. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder(describe());
    for (int r = 0; r < p; r++) {
      sb.append("\n  rank ").append(r).append(':');
      for (Action a : computeActions(r)) sb.append(' ').append(a);
    }
    return sb.toString();
  }
}
