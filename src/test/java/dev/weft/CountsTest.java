package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CountsTest {
  @Test
  void oneIsSingularAndEveryOtherCountPlural() {
    assertThat(Counts.of(1, "step")).isEqualTo("1 step");
    assertThat(Counts.of(0, "step")).isEqualTo("0 steps");
    assertThat(Counts.of(2000, "step")).isEqualTo("2,000 steps");
    assertThat(Counts.of(-1, "step")).isEqualTo("-1 steps");
  }

  @Test
  void irregularEndingsTakeTheirPlural() {
    assertThat(Counts.of(3, "entry")).isEqualTo("3 entries");
    assertThat(Counts.of(3, "day")).isEqualTo("3 days");
    assertThat(Counts.of(2, "micro-batch")).isEqualTo("2 micro-batches");
    assertThat(Counts.of(2, "process")).isEqualTo("2 processes");
    assertThat(Counts.of(1, "micro-batch")).isEqualTo("1 micro-batch");
  }
}
