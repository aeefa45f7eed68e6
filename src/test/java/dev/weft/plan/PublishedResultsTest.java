package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Predicted vs published throughput on A100 clusters (sources in {@link PublishedResults}).
 *
 * <p>Error bound achieved (with GPU_EFFICIENCY 0.70 and ELEMENTWISE_PASSES 6, the two fitted constants):
 * Narayanan et al. 2021 Table 1, all ten models 1.7B..1T: within +-8% (mean about 5%); Korthikanti et
 * al. 2022 MFU: within +-13% (22B on one node is over-predicted by 12%, 175B..1T within 5%); Smith et
 * al. 2022 MT-NLG: over-predicted by 21-27% (a DeepSpeed pipeline engine, non-interleaved, at the same
 * shape where Megatron's own Table 1 run reached 163 TFLOP/s: the model cannot tell the two software
 * stacks apart). Asserted bounds: 10%, 15% and 30%.
 */
class PublishedResultsTest {
  @Test
  void predictionsAreWithinTheStatedErrorOfPublishedResults() {
    List<PublishedResults.Comparison> rows = PublishedResults.compareAll(ClusterSpec.a100_80gb());
    System.out.println(PublishedResults.table(rows));
    for (PublishedResults.Comparison c : rows) {
      String src = c.published().source();
      double bound = src.startsWith("Narayanan") ? 0.10 : src.startsWith("Korthikanti") ? 0.15 : 0.30;
      assertThat(Math.abs(c.relativeError())).as(c.published().model() + " " + src).isLessThan(bound);
    }
  }
}
