package dev.weft.parallel.pp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.parallel.pp.Action.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every generator over many (p, m, v): the invariants of {@link ScheduleChecker}, the memory bounds and the bubbles. */
class ScheduleInvariantsTest {
  static Stream<Arguments> shapes() {
    List<Arguments> out = new ArrayList<>();
    for (String name : Schedules.NAMES) {
      for (int p = 1; p <= 6; p++) {
        for (int m = 1; m <= 13; m++) {
          if (name.equals("interleaved")) {
            for (int v = 2; v <= 4; v++) if (m % p == 0) out.add(Arguments.of(name, p, m, v));
          } else {
            out.add(Arguments.of(name, p, m, 1));
          }
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} p={1} m={2} v={3}")
  @MethodSource("shapes")
  void invariantsHold(String name, int p, int m, int v) {
    Schedule s = Schedules.generate(name, p, m, v);
    assertThat(s.p()).isEqualTo(p);
    assertThat(s.m()).isEqualTo(m);
    assertThat(s.v()).isEqualTo(v);
    assertThat(s.name()).isEqualTo(name);
    ScheduleChecker.Report rep = ScheduleChecker.check(s); // exactly-once, order, messages, in-flight, no deadlock
    for (int r = 0; r < p; r++) {
      int inFlight = rep.peakInFlight()[r];
      int stashed = rep.peakStashed()[r];
      switch (name) {
        case "naive" -> assertThat(stashed).isEqualTo(1);
        case "gpipe" -> assertThat(stashed).isEqualTo(m);
        case "1f1b" -> {
          assertThat(stashed).isEqualTo(Math.min(p - r, m));
          assertThat(leadingForwards(s, r)).isEqualTo(Math.min(p - r, m)); // warm-up p-r-1, then the first steady F
        }
        case "zb" -> {
          assertThat(inFlight).isEqualTo(Math.min(p - r, m)); // as 1F1B
          assertThat(stashed).isLessThanOrEqualTo(Math.min(p, m)); // 1F1B's peak (rank 0's)
          assertThat(leadingForwards(s, r)).isEqualTo(Math.min(p - r, m)); // warm-up p-r-1, then the first steady F
        }
        default -> { // interleaved: Narayanan et al. 2021, peak = min(m v, warm-up + 1) chunk activations
          assertThat(stashed).isEqualTo(InterleavedSchedule.peakStashedChunks(p, m, v, r));
          assertThat(leadingForwards(s, r)).isEqualTo(Math.min(InterleavedSchedule.warmup(p, m, v, r) + 1, m * v));
        }
      }
      assertThat(inFlight).isLessThanOrEqualTo(stashed);
    }
  }

  /** Forwards before the first backward on rank r: the warm-up and the first steady-state forward. */
  static int leadingForwards(Schedule s, int r) {
    int n = 0;
    for (Action a : s.computeActions(r)) {
      if (a.kind() != Kind.FORWARD) break;
      n++;
    }
    return n;
  }

  @ParameterizedTest(name = "p={0} m={1}")
  @MethodSource("bubbleShapes")
  void simulatedBubblesMatchTheory(int p, int m) {
    double theory = (p - 1.0) / (m + p - 1);
    ScheduleChecker.Costs c = ScheduleChecker.Costs.standard(); // F=1, B=2, BI=1, BW=1, communication free
    for (String name : List.of("gpipe", "1f1b")) {
      ScheduleChecker.Timing t = ScheduleChecker.simulate(Schedules.generate(name, p, m, 1), c);
      for (int r = 0; r < p; r++) assertThat(t.idleFraction(r)).as(name + " rank " + r).isCloseTo(theory, within(1e-12));
      assertThat(t.makespan()).isEqualTo(3.0 * (m + p - 1));
    }
    // naive: exactly one device busy at a time
    ScheduleChecker.Timing naive = ScheduleChecker.simulate(Schedules.generate("naive", p, m, 1), c);
    assertThat(naive.makespan()).isEqualTo(3.0 * m * p);
    // ZB-H1: the bubble shrinks to (p-1)(F + BI - BW) = p-1 units against 1F1B's 3(p-1)
    ScheduleChecker.Timing zb = ScheduleChecker.simulate(Schedules.generate("zb", p, m, 1), c);
    double oneF = ScheduleChecker.simulate(Schedules.generate("1f1b", p, m, 1), c).idleFraction(0);
    if (m >= p) {
      assertThat(zb.makespan()).isEqualTo(3.0 * m + (p - 1));
      for (int r = 0; r < p; r++) assertThat(zb.idleFraction(r)).isCloseTo((p - 1.0) / (3 * m + p - 1), within(1e-12));
      if (p > 1) assertThat(zb.meanIdleFraction()).isLessThan(oneF);
    }
    // interleaved with v chunks of 1/v the work each: bubble (p-1)/(v m + p - 1), about v times less
    if (m % p == 0) {
      for (int v = 2; v <= 4; v++) {
        ScheduleChecker.Costs chunk = new ScheduleChecker.Costs(1.0 / v, 2.0 / v, 1.0 / v, 1.0 / v);
        ScheduleChecker.Timing il = ScheduleChecker.simulate(Schedules.generate("interleaved", p, m, v), chunk);
        double expected = (p - 1.0) / (v * m + p - 1);
        for (int r = 0; r < p; r++) assertThat(il.idleFraction(r)).as("v=" + v).isCloseTo(expected, within(1e-9));
        if (p > 1) assertThat(il.idleFraction(0)).isLessThan(oneF);
      }
    }
  }

  static Stream<Arguments> bubbleShapes() {
    List<Arguments> out = new ArrayList<>();
    for (int p = 1; p <= 6; p++) for (int m = 1; m <= 16; m++) out.add(Arguments.of(p, m));
    return out.stream();
  }

  static org.assertj.core.data.Offset<Double> within(double d) {
    return org.assertj.core.data.Offset.offset(d);
  }

  @Test
  void placementIsMegatronInterleaving() {
    Schedule s = Schedules.generate("interleaved", 4, 8, 2);
    for (int r = 0; r < 4; r++) {
      for (Action a : s.actions(r)) assertThat(a.stage() % 4).isEqualTo(r);
    }
    assertThat(s.rankOf(5)).isEqualTo(1);
    // the last chunk of rank 3 (stage 3) feeds chunk 1 of rank 0 (stage 4)
    assertThat(s.actions(3)).contains(Action.comm(Kind.SEND_ACTIVATION, 3, 0, 0));
    assertThat(s.actions(0)).contains(Action.comm(Kind.RECV_ACTIVATION, 4, 0, 3));
  }

  @Test
  void singleRankHasNoCommunication() {
    for (String name : Schedules.NAMES) {
      Schedule s = Schedules.generate(name, 1, 4, name.equals("interleaved") ? 3 : 1);
      assertThat(s.actions(0)).allMatch(a -> a.kind().isCompute());
      ScheduleChecker.check(s);
    }
  }

  @Test
  void checkerCatchesBrokenLists() {
    Schedule good = Schedules.generate("1f1b", 2, 2, 1);
    // rank 1 runs its backwards before its forwards (swap): dependencies broken
    List<List<Action>> swapped = lists(good);
    java.util.Collections.reverse(swapped.get(1));
    assertThatThrownBy(() -> ScheduleChecker.check(copy(good, swapped))).isInstanceOf(ScheduleChecker.Violation.class)
        .hasMessageContaining("earlier in the list");
    // a missing backward
    List<List<Action>> missing = lists(good);
    missing.get(0).remove(Action.compute(Kind.BACKWARD, 0, 1));
    assertThatThrownBy(() -> ScheduleChecker.check(copy(good, missing))).hasMessageContaining("expected one B");
    // a duplicated forward
    List<List<Action>> twice = lists(good);
    twice.get(0).add(0, Action.compute(Kind.FORWARD, 0, 0));
    assertThatThrownBy(() -> ScheduleChecker.check(copy(good, twice))).hasMessageContaining("2 forwards");
    // a forward on the wrong rank
    List<List<Action>> wrong = lists(good);
    wrong.get(0).add(Action.compute(Kind.FORWARD, 1, 0));
    assertThatThrownBy(() -> ScheduleChecker.check(copy(good, wrong))).hasMessageContaining("lives on rank 1");
    // gradients received in another order than sent
    Schedule g = Schedules.generate("gpipe", 2, 2, 1);
    List<List<Action>> reordered = lists(g);
    List<Action> r0 = reordered.get(0);
    int i0 = r0.indexOf(Action.comm(Kind.RECV_GRADIENT, 0, 0, 1));
    int i1 = r0.indexOf(Action.comm(Kind.RECV_GRADIENT, 0, 1, 1));
    r0.set(i0, Action.comm(Kind.RECV_GRADIENT, 0, 1, 1));
    r0.set(i1, Action.comm(Kind.RECV_GRADIENT, 0, 0, 1));
    assertThatThrownBy(() -> ScheduleChecker.check(copy(g, reordered))).isInstanceOf(ScheduleChecker.Violation.class);
  }

  @Test
  void simulationFindsDeadlocks() {
    // rank 0 waits for a gradient before sending the activation rank 1 needs: a cycle
    Action f0 = Action.compute(Kind.FORWARD, 0, 0);
    Action sa = Action.comm(Kind.SEND_ACTIVATION, 0, 0, 1);
    Action rg = Action.comm(Kind.RECV_GRADIENT, 0, 0, 1);
    Action b0 = Action.compute(Kind.BACKWARD, 0, 0);
    Action ra = Action.comm(Kind.RECV_ACTIVATION, 1, 0, 0);
    Action f1 = Action.compute(Kind.FORWARD, 1, 0);
    Action b1 = Action.compute(Kind.BACKWARD, 1, 0);
    Action sg = Action.comm(Kind.SEND_GRADIENT, 1, 0, 0);
    Schedule bad = new Schedule("bad", 2, 1, 1, List.of(List.of(f0, rg, sa, b0), List.of(ra, f1, b1, sg)));
    assertThatThrownBy(() -> ScheduleChecker.simulate(bad, ScheduleChecker.Costs.standard()))
        .hasMessageContaining("deadlock").hasMessageContaining("rank 0 waits at RG0.0<1");
  }

  @Test
  void clearErrorsForBadShapes() {
    assertThatThrownBy(() -> Schedules.generate("interleaved", 4, 6, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("m % p == 0").hasMessageContaining("Use m=8");
    assertThatThrownBy(() -> Schedules.generate("interleaved", 4, 2, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("m < p");
    assertThatThrownBy(() -> Schedules.generate("1f1b", 4, 8, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("Use --schedule interleaved for v > 1");
    assertThatThrownBy(() -> Schedules.generate("interleaved", 4, 8, 1)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("--schedule 1f1b");
    assertThatThrownBy(() -> Schedules.generate("pipedream", 4, 8, 1)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("Choose one of");
    assertThatThrownBy(() -> Schedules.generate("gpipe", 4, 0, 1)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("at least 1");
    assertThat(Schedules.generate(PipelineSchedule.ONE_F_ONE_B, 8, StagePlan.balanced(12, 4, 1)).p()).isEqualTo(4);
    assertThatThrownBy(() -> Schedules.generate(PipelineSchedule.INTERLEAVED, 8, StagePlan.balanced(6, 4, 2)))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("fewer than pp=4 stages x 2 virtual stages");
  }

  private static List<List<Action>> lists(Schedule s) {
    List<List<Action>> out = new ArrayList<>();
    for (int r = 0; r < s.p(); r++) out.add(new ArrayList<>(s.actions(r)));
    return out;
  }

  private static Schedule copy(Schedule s, List<List<Action>> lists) {
    return new Schedule(s.name(), s.p(), s.m(), s.v(), lists);
  }
}
