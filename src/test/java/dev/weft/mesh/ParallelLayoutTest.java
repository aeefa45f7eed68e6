package dev.weft.mesh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParallelLayoutTest {
  /** Every layout of up to 16 ranks. */
  static List<ParallelLayout> layouts() {
    List<ParallelLayout> out = new ArrayList<>();
    for (int dp = 1; dp <= 4; dp++)
      for (int pp = 1; pp <= 4; pp++)
        for (int cp = 1; cp <= 2; cp++)
          for (int tp = 1; tp <= 4; tp++)
            if (dp * pp * cp * tp <= 16) out.add(ParallelLayout.of(dp, pp, cp, tp));
    return out;
  }

  static final Axis[][] AXIS_SETS = {
      {Axis.DP}, {Axis.PP}, {Axis.CP}, {Axis.TP}, {Axis.DP, Axis.CP}, {Axis.TP, Axis.CP}, Axis.values()};

  @Test
  void rankFormulaAndToString() {
    ParallelLayout l = ParallelLayout.of(2, 2, 1, 2, 8);
    assertThat(l.toString(5)).isEqualTo("dp=2 pp=2 cp=1 tp=2 | rank 5 = (pp 1, dp 0, cp 0, tp 1)");
    assertThat(l.rankOf(1, 0, 0, 1)).isEqualTo(5);
    assertThat(l.groupRanks(5, Axis.TP)).containsExactly(4, 5);
    assertThat(l.groupRanks(5, Axis.DP)).containsExactly(5, 7);
    assertThat(l.groupRanks(5, Axis.PP)).containsExactly(1, 5);
    assertThat(l.isLastStage(5)).isTrue();
    assertThat(l.prevStage(5)).isEqualTo(1);
  }

  @Test
  void coordinatesRoundTrip() {
    for (ParallelLayout l : layouts()) {
      for (int r = 0; r < l.worldSize(); r++) {
        int back = l.rankOf(l.coordinate(r, Axis.PP), l.coordinate(r, Axis.DP), l.coordinate(r, Axis.CP), l.coordinate(r, Axis.TP));
        assertThat(back).as("%s rank %d", l, r).isEqualTo(r);
        int expected = ((l.coordinate(r, Axis.PP) * l.dp() + l.coordinate(r, Axis.DP)) * l.cp() + l.coordinate(r, Axis.CP)) * l.tp()
            + l.coordinate(r, Axis.TP);
        assertThat(expected).isEqualTo(r);
      }
    }
  }

  @Test
  void groupsPartitionTheWorldAndAgreeAmongMembers() {
    for (ParallelLayout l : layouts()) {
      for (Axis[] axes : AXIS_SETS) {
        int expectedSize = 1;
        for (Axis a : axes) expectedSize *= l.size(a);
        int[] owner = new int[l.worldSize()];
        Arrays.fill(owner, -1);
        for (int r = 0; r < l.worldSize(); r++) {
          int[] g = l.groupRanks(r, axes);
          assertThat(g).as("%s %s", l.toString(r), Arrays.toString(axes)).contains(r).hasSize(expectedSize).isSorted();
          for (int m : g) {
            assertThat(l.groupRanks(m, axes)).as("member %d agrees", m).isEqualTo(g);
            // members share every coordinate off the named axes
            for (Axis a : Axis.values()) {
              if (!Arrays.asList(axes).contains(a)) assertThat(l.coordinate(m, a)).isEqualTo(l.coordinate(r, a));
            }
          }
          assertThat(l.indexInGroup(r, axes)).isEqualTo(Arrays.binarySearch(g, r));
        }
        List<int[]> all = l.allGroups(axes);
        int covered = 0;
        for (int[] g : all) {
          for (int m : g) {
            assertThat(owner[m]).as("rank %d in two groups", m).isEqualTo(-1);
            owner[m] = g[0];
            covered++;
          }
        }
        assertThat(covered).isEqualTo(l.worldSize());
      }
    }
  }

  @Test
  void neighboursWalkTheRing() {
    for (ParallelLayout l : layouts()) {
      for (Axis a : Axis.values()) {
        for (int r = 0; r < l.worldSize(); r++) {
          int[] g = l.groupRanks(r, a);
          int i = Arrays.binarySearch(g, r);
          assertThat(l.next(r, a)).isEqualTo(g[(i + 1) % g.length]);
          assertThat(l.prev(r, a)).isEqualTo(g[(i - 1 + g.length) % g.length]);
          assertThat(l.indexInGroup(r, a)).isEqualTo(l.coordinate(r, a));
        }
      }
      for (int r = 0; r < l.worldSize(); r++) {
        assertThat(l.isFirstStage(r)).isEqualTo(l.coordinate(r, Axis.PP) == 0);
        if (!l.isLastStage(r)) assertThat(l.prevStage(l.nextStage(r))).isEqualTo(r);
      }
    }
  }

  @Test
  void tpIsInnermost() {
    ParallelLayout l = ParallelLayout.of(2, 1, 2, 2);
    assertThat(l.groupRanks(0, Axis.TP)).containsExactly(0, 1);
    assertThat(l.groupRanks(0, Axis.CP)).containsExactly(0, 2);
    assertThat(l.groupRanks(0, Axis.DP)).containsExactly(0, 4);
    assertThat(l.groupRanks(0, Axis.DP, Axis.CP)).containsExactly(0, 2, 4, 6);
  }

  @Test
  void wrongWorldSizeNamesTheConstraint() {
    assertThatThrownBy(() -> ParallelLayout.of(2, 2, 1, 2, 6))
        .isInstanceOf(WeftInputException.class)
        .hasMessageContaining("dp*pp*cp*tp == world size")
        .hasMessageContaining("6");
    assertThatThrownBy(() -> ParallelLayout.of(0, 1, 1, 1, 1))
        .isInstanceOf(WeftInputException.class)
        .hasMessageContaining("--dp");
  }
}
