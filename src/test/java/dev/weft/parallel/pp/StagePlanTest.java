package dev.weft.parallel.pp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class StagePlanTest {
  @Test
  void balancedCountsCoverEveryLayerOnce() {
    for (int layers = 1; layers <= 30; layers++) {
      for (int p = 1; p <= 4; p++) {
        for (int v = 1; v <= 3; v++) {
          if (layers < p * v) continue;
          StagePlan plan = StagePlan.balanced(layers, p, v);
          int[] sizes = plan.sizes();
          assertThat(sizes).hasSize(p * v);
          assertThat(Arrays.stream(sizes).sum()).isEqualTo(layers);
          assertThat(Arrays.stream(sizes).max().getAsInt() - Arrays.stream(sizes).min().getAsInt()).isLessThanOrEqualTo(1);
          for (int s = 0; s < p * v; s++) {
            assertThat(plan.layers(s)).isGreaterThanOrEqualTo(1);
            if (s > 0) assertThat(plan.firstLayer(s)).isEqualTo(plan.firstLayer(s - 1) + plan.layers(s - 1));
            assertThat(plan.rankOf(s)).isEqualTo(s % p);
          }
          assertThat(plan.layers()).isEqualTo(layers);
        }
      }
    }
  }

  @Test
  void extraLayersGoToTheMiddleFirst() {
    assertThat(StagePlan.balanced(10, 4, 1).sizes()).containsExactly(2, 3, 3, 2);
    assertThat(StagePlan.balanced(13, 2, 2).sizes()).containsExactly(3, 4, 3, 3);
    StagePlan p = StagePlan.balanced(12, 2, 2);
    assertThat(p.hasEmbedding(0)).isTrue();
    assertThat(p.hasHead(3)).isTrue();
    assertThat(p.hasHead(1)).isFalse();
    assertThat(p.stagesOf(1)).containsExactly(1, 3);
  }

  @Test
  void explicitAndCostPlans() {
    assertThat(StagePlan.explicit(new int[] {1, 2, 3, 4}, 2, 2).firstLayer(3)).isEqualTo(6);
    // uniform layers, a heavy head (3 layers' worth): the last chunk gets fewer layers
    double[] costs = new double[12];
    Arrays.fill(costs, 1);
    StagePlan byCost = StagePlan.byCost(costs, 0, 3, 4, 1);
    assertThat(byCost.sizes()[3]).isEqualTo(1);
    assertThat(Arrays.stream(byCost.sizes()).max().getAsInt()).isEqualTo(4); // the best max chunk cost is 4
    assertThat(Arrays.stream(byCost.sizes()).sum()).isEqualTo(12);
    // a very expensive layer sits alone
    double[] spiky = {1, 1, 1, 10, 1, 1, 1, 1};
    int[] s = StagePlan.byCost(spiky, 0, 0, 3, 1).sizes();
    assertThat(Arrays.stream(s).sum()).isEqualTo(8);
    assertThat(s[1]).isEqualTo(1);
  }

  @Test
  void clearErrors() {
    assertThatThrownBy(() -> StagePlan.balanced(7, 4, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("7 transformer layers, fewer than pp=4 stages x 2 virtual stages = 8");
    assertThatThrownBy(() -> StagePlan.explicit(new int[] {2, 2, 2}, 2, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("needs 4");
    assertThatThrownBy(() -> StagePlan.explicit(new int[] {2, 0, 2, 2}, 2, 2)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("at least one layer");
  }
}
