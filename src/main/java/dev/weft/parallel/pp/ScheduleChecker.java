package dev.weft.parallel.pp;

import dev.weft.parallel.pp.Action.Kind;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Invariants of a {@link Schedule}, checked on the action lists alone (pure; usable from tests and at start-up).
 * {@link #check} throws {@link Violation} naming the first broken invariant:
 * <ol>
 *   <li>every action sits on the rank that owns its stage, and every send / receive names the right peer;</li>
 *   <li>every (stage, micro-batch) has exactly one FORWARD and, later on the same rank, exactly one BACKWARD or
 *       one BACKWARD_INPUT followed by one BACKWARD_WEIGHT;</li>
 *   <li>dependencies: F(s, mb) needs F(s-1, mb), B(s, mb) needs F(s, mb) and B(s+1, mb); on the same rank the
 *       dependency comes earlier in the list, across ranks a receive of it comes earlier and its send later on
 *       the producing rank;</li>
 *   <li>sends and receives match one to one, in the same order per (sender, receiver, direction);</li>
 *   <li>in-flight micro-batches per rank (forwarded, not yet B / BI) never go negative and end at zero;</li>
 *   <li>no deadlock: {@link #simulate} runs all lists with blocking receives and buffered sends to the end.</li>
 * </ol>
 * The returned {@link Report} carries each rank's peak in-flight count, peak stash (forwarded, not yet through
 * B or BW: what the activation memory holds) and the unit-cost timeline.
 */
public final class ScheduleChecker {
  private ScheduleChecker() {}

  /** A broken schedule invariant. */
  public static final class Violation extends IllegalStateException {
    public Violation(Schedule s, String message) {
      super(s.describe() + ": " + message);
    }
  }

  /** Cost of each compute kind in abstract time units; communication is free. */
  public record Costs(double forward, double backward, double backwardInput, double backwardWeight) {
    /** F = 1, B = 2, BI = 1, BW = 1: the usual assumption (a backward costs two forwards). */
    public static Costs standard() {
      return new Costs(1, 2, 1, 1);
    }

    double of(Kind k) {
      return switch (k) {
        case FORWARD -> forward;
        case BACKWARD -> backward;
        case BACKWARD_INPUT -> backwardInput;
        case BACKWARD_WEIGHT -> backwardWeight;
        default -> 0;
      };
    }
  }

  /**
   * A simulated timeline: per rank, the busy time and the time its last action ends; the makespan is the
   * latest end. {@code start[r][i]} is when action i of rank r started.
   */
  public record Timing(double[] busy, double[] end, double makespan, double[][] start) {
    /** Idle fraction of rank r over the whole step: 1 - busy / makespan. */
    public double idleFraction(int r) {
      return 1 - busy[r] / makespan;
    }

    /** Mean idle fraction over ranks. */
    public double meanIdleFraction() {
      double s = 0;
      for (int r = 0; r < busy.length; r++) s += idleFraction(r);
      return s / busy.length;
    }
  }

  /** The result of a successful check. */
  public record Report(int[] peakInFlight, int[] peakStashed, Timing timing) {}

  /** Checks every invariant; returns the peaks and the unit-cost timeline, or throws {@link Violation}. */
  public static Report check(Schedule s) {
    checkPlacementAndCounts(s);
    checkOrderOnEachRank(s);
    checkMessages(s);
    int p = s.p();
    int[] peakIn = new int[p];
    int[] peakStash = new int[p];
    for (int r = 0; r < p; r++) {
      int in = 0;
      int stash = 0;
      for (Action a : s.actions(r)) {
        switch (a.kind()) {
          case FORWARD -> { in++; stash++; }
          case BACKWARD -> { in--; stash--; }
          case BACKWARD_INPUT -> in--;
          case BACKWARD_WEIGHT -> stash--;
          default -> { }
        }
        if (in < 0 || stash < 0) throw new Violation(s, "rank " + r + ": in-flight count negative at " + a);
        peakIn[r] = Math.max(peakIn[r], in);
        peakStash[r] = Math.max(peakStash[r], stash);
      }
      if (in != 0 || stash != 0) {
        throw new Violation(s, "rank " + r + " ends with " + in + " micro-batches in flight and " + stash + " stashed");
      }
    }
    return new Report(peakIn, peakStash, simulate(s, Costs.standard()));
  }

  // ---- 1, 2: placement and exactly-once ---------------------------------------------------------------

  private static void checkPlacementAndCounts(Schedule s) {
    int stages = s.stages();
    int m = s.m();
    int[][][] count = new int[4][stages][m];
    for (int r = 0; r < s.p(); r++) {
      for (Action a : s.actions(r)) {
        int st = a.stage();
        if (st >= stages || a.microBatch() >= m) throw new Violation(s, "rank " + r + ": " + a + " is outside the schedule");
        if (s.rankOf(st) != r) throw new Violation(s, a + " is on rank " + r + " but stage " + st + " lives on rank " + s.rankOf(st));
        if (a.kind().isCompute()) {
          count[a.kind().ordinal()][st][a.microBatch()]++;
        } else {
          int expectedPeer = switch (a.kind()) {
            case SEND_ACTIVATION, RECV_GRADIENT -> st + 1 < stages ? s.rankOf(st + 1) : -2;
            default -> st > 0 ? s.rankOf(st - 1) : -2;
          };
          if (a.peer() != expectedPeer || a.peer() == r) {
            throw new Violation(s, "rank " + r + ": " + a + " names peer " + a.peer()
                + (expectedPeer == -2 ? " but stage " + st + " has no neighbour that way" : " but the neighbour stage is on rank " + expectedPeer));
          }
        }
      }
    }
    for (int st = 0; st < stages; st++) {
      for (int mb = 0; mb < m; mb++) {
        int f = count[Kind.FORWARD.ordinal()][st][mb];
        int b = count[Kind.BACKWARD.ordinal()][st][mb];
        int bi = count[Kind.BACKWARD_INPUT.ordinal()][st][mb];
        int bw = count[Kind.BACKWARD_WEIGHT.ordinal()][st][mb];
        if (f != 1) throw new Violation(s, "stage " + st + " micro-batch " + mb + " has " + f + " forwards, expected 1");
        boolean whole = b == 1 && bi == 0 && bw == 0;
        boolean split = b == 0 && bi == 1 && bw == 1;
        if (!whole && !split) {
          throw new Violation(s, "stage " + st + " micro-batch " + mb + " has " + b + " B, " + bi + " BI, " + bw
              + " BW; expected one B, or one BI and one BW");
        }
      }
    }
  }

  // ---- 3: dependencies in list order ------------------------------------------------------------------

  private static void checkOrderOnEachRank(Schedule s) {
    int stages = s.stages();
    for (int r = 0; r < s.p(); r++) {
      Map<Action, Integer> pos = new HashMap<>();
      List<Action> list = s.actions(r);
      for (int i = 0; i < list.size(); i++) pos.put(list.get(i), i);
      for (int i = 0; i < list.size(); i++) {
        Action a = list.get(i);
        int st = a.stage();
        int mb = a.microBatch();
        switch (a.kind()) {
          case FORWARD -> {
            if (st > 0) needBefore(s, r, pos, i, a, input(s, r, st, mb));
            if (st < stages - 1 && s.rankOf(st + 1) != r) needAfter(s, r, pos, i, a, Action.comm(Kind.SEND_ACTIVATION, st, mb, s.rankOf(st + 1)));
          }
          case BACKWARD, BACKWARD_INPUT -> {
            needBefore(s, r, pos, i, a, Action.compute(Kind.FORWARD, st, mb));
            if (st < stages - 1) needBefore(s, r, pos, i, a, gradient(s, r, st, mb));
            if (st > 0 && s.rankOf(st - 1) != r) needAfter(s, r, pos, i, a, Action.comm(Kind.SEND_GRADIENT, st, mb, s.rankOf(st - 1)));
          }
          case BACKWARD_WEIGHT -> needBefore(s, r, pos, i, a, Action.compute(Kind.BACKWARD_INPUT, st, mb));
          default -> { }
        }
      }
    }
  }

  /** What F(st, mb) on rank r waits for: the receive, or the local forward of st - 1. */
  private static Action input(Schedule s, int r, int st, int mb) {
    int src = s.rankOf(st - 1);
    return src == r ? Action.compute(Kind.FORWARD, st - 1, mb) : Action.comm(Kind.RECV_ACTIVATION, st, mb, src);
  }

  /** What the backward of (st, mb) on rank r waits for: the received gradient, or the local backward of st + 1. */
  private static Action gradient(Schedule s, int r, int st, int mb) {
    int src = s.rankOf(st + 1);
    if (src != r) return Action.comm(Kind.RECV_GRADIENT, st, mb, src);
    boolean split = s.actions(r).contains(Action.compute(Kind.BACKWARD_INPUT, st + 1, mb));
    return Action.compute(split ? Kind.BACKWARD_INPUT : Kind.BACKWARD, st + 1, mb);
  }

  private static void needBefore(Schedule s, int r, Map<Action, Integer> pos, int i, Action a, Action dep) {
    Integer j = pos.get(dep);
    if (j == null || j >= i) {
      throw new Violation(s, "rank " + r + ": " + a + " at position " + i + " needs " + dep + " earlier in the list"
          + (j == null ? ", but the list has none" : ", but it is at position " + j));
    }
  }

  private static void needAfter(Schedule s, int r, Map<Action, Integer> pos, int i, Action a, Action next) {
    Integer j = pos.get(next);
    if (j == null || j <= i) {
      throw new Violation(s, "rank " + r + ": " + a + " at position " + i + " must be followed by " + next
          + (j == null ? ", but the list has none" : ", but it is at position " + j));
    }
  }

  // ---- 4: message matching ----------------------------------------------------------------------------

  /** The sequence of messages, as (boundary, micro-batch), per (from, to, direction). */
  private static void checkMessages(Schedule s) {
    int p = s.p();
    Map<List<Integer>, List<List<Integer>>> sent = new HashMap<>();
    Map<List<Integer>, List<List<Integer>>> received = new HashMap<>();
    for (int r = 0; r < p; r++) {
      for (Action a : s.actions(r)) {
        if (a.kind().isCompute()) continue;
        boolean activation = a.kind() == Kind.SEND_ACTIVATION || a.kind() == Kind.RECV_ACTIVATION;
        int from = a.kind().isSend() ? r : a.peer();
        int to = a.kind().isSend() ? a.peer() : r;
        List<Integer> key = List.of(from, to, activation ? 0 : 1);
        List<Integer> msg = List.of(boundary(a), a.microBatch());
        (a.kind().isSend() ? sent : received).computeIfAbsent(key, k -> new ArrayList<>()).add(msg);
      }
    }
    for (var e : sent.entrySet()) {
      List<List<Integer>> got = received.getOrDefault(e.getKey(), List.of());
      if (!got.equals(e.getValue())) {
        throw new Violation(s, "rank " + e.getKey().get(0) + " sends " + dir(e.getKey()) + " to rank " + e.getKey().get(1)
            + " as (boundary, micro-batch) " + e.getValue() + " but that rank receives " + got);
      }
    }
    for (var e : received.entrySet()) {
      if (!sent.containsKey(e.getKey())) {
        throw new Violation(s, "rank " + e.getKey().get(1) + " receives " + dir(e.getKey()) + " " + e.getValue()
            + " from rank " + e.getKey().get(0) + " which never sends them");
      }
    }
  }

  private static String dir(List<Integer> key) {
    return key.get(2) == 0 ? "activations" : "gradients";
  }

  /**
   * The stage boundary a message crosses: boundary b sits between stages b-1 and b. An activation sent by
   * stage s crosses s+1 and is received by stage s+1; a gradient sent by stage s crosses s and is received
   * by stage s-1 as its RECV_GRADIENT.
   */
  static int boundary(Action a) {
    return switch (a.kind()) {
      case SEND_ACTIVATION, RECV_GRADIENT -> a.stage() + 1;
      case RECV_ACTIVATION, SEND_GRADIENT -> a.stage();
      default -> throw new IllegalArgumentException(a + " is not a message");
    };
  }

  // ---- 6: deadlock-freedom and the timeline -------------------------------------------------------------

  /**
   * Runs every rank's list with blocking receives and buffered sends, compute taking {@code costs} and
   * communication free. Each rank's clock only advances on its own actions and on the time its receives'
   * messages were sent, so the times do not depend on the order ranks are stepped in. Throws
   * {@link Violation} listing what every blocked rank waits for if the lists deadlock, or if a compute pass
   * starts before a pass it depends on has ended.
   */
  public static Timing simulate(Schedule s, Costs costs) {
    int p = s.p();
    int[] pc = new int[p];
    double[] clock = new double[p];
    double[] busy = new double[p];
    double[][] start = new double[p][];
    for (int r = 0; r < p; r++) start[r] = new double[s.actions(r).size()];
    Map<List<Integer>, ArrayDeque<double[]>> mail = new HashMap<>(); // (from, to, dir, boundary, mb) -> send times
    Map<Action, Double> finished = new HashMap<>();
    boolean progress = true;
    while (progress) {
      progress = false;
      for (int r = 0; r < p; r++) {
        List<Action> list = s.actions(r);
        while (pc[r] < list.size()) {
          Action a = list.get(pc[r]);
          if (a.kind().isRecv()) {
            ArrayDeque<double[]> q = mail.get(messageKey(a.peer(), r, a));
            if (q == null || q.isEmpty()) break; // blocked
            clock[r] = Math.max(clock[r], q.poll()[0]);
          } else if (a.kind().isSend()) {
            mail.computeIfAbsent(messageKey(r, a.peer(), a), k -> new ArrayDeque<>()).add(new double[] {clock[r]});
          } else {
            checkStarted(s, a, clock[r], finished);
            double c = costs.of(a.kind());
            start[r][pc[r]] = clock[r];
            clock[r] += c;
            busy[r] += c;
            finished.put(a, clock[r]);
          }
          if (!a.kind().isCompute()) start[r][pc[r]] = clock[r];
          pc[r]++;
          progress = true;
        }
      }
    }
    StringBuilder blocked = new StringBuilder();
    for (int r = 0; r < p; r++) {
      if (pc[r] < s.actions(r).size()) blocked.append(" rank ").append(r).append(" waits at ").append(s.actions(r).get(pc[r])).append(';');
    }
    if (!blocked.isEmpty()) throw new Violation(s, "deadlock with blocking receives:" + blocked);
    double makespan = Arrays.stream(clock).max().orElse(0);
    return new Timing(busy, clock, makespan, start);
  }

  private static List<Integer> messageKey(int from, int to, Action a) {
    boolean activation = a.kind() == Kind.SEND_ACTIVATION || a.kind() == Kind.RECV_ACTIVATION;
    return List.of(from, to, activation ? 0 : 1, boundary(a), a.microBatch());
  }

  private static void checkStarted(Schedule s, Action a, double t, Map<Action, Double> finished) {
    int st = a.stage();
    int mb = a.microBatch();
    List<Action> deps = new ArrayList<>();
    switch (a.kind()) {
      case FORWARD -> { if (st > 0) deps.add(Action.compute(Kind.FORWARD, st - 1, mb)); }
      case BACKWARD, BACKWARD_INPUT -> {
        deps.add(Action.compute(Kind.FORWARD, st, mb));
        if (st < s.stages() - 1) {
          Double b = finished.get(Action.compute(Kind.BACKWARD, st + 1, mb));
          deps.add(Action.compute(b != null ? Kind.BACKWARD : Kind.BACKWARD_INPUT, st + 1, mb));
        }
      }
      case BACKWARD_WEIGHT -> deps.add(Action.compute(Kind.BACKWARD_INPUT, st, mb));
      default -> { }
    }
    for (Action d : deps) {
      Double end = finished.get(d);
      if (end == null || end > t + 1e-9) {
        throw new Violation(s, a + " starts at " + t + " before " + d + (end == null ? " has run" : " ends at " + end));
      }
    }
  }
}
