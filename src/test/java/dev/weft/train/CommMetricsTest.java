package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.models.gpt2.GPT2Config;
import dev.weft.parallel.Parallelism;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** exposed_comm_ms is the part of comm_ms the ranks waited for: never more, on any layout. */
class CommMetricsTest {
  @TempDir static Path dir;

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"one device", "dp=2", "dp=2 zero=3", "tp=2", "pp=2", "cp=2"})
  void exposedCommunicationNeverExceedsCommunication(String layout) throws Exception {
    int dp = layout.contains("dp=2") ? 2 : 1;
    int tp = layout.contains("tp=2") ? 2 : 1;
    int pp = layout.contains("pp=2") ? 2 : 1;
    int cp = layout.contains("cp=2") ? 2 : 1;
    int zero = layout.contains("zero=3") ? 3 : 0;
    Parallelism par = Parallelism.builder().dp(dp).tp(tp).pp(pp).cp(cp).zero(zero).build();
    TrainConfig cfg = TrainConfig.builder(new GPT2Config(2, 32, 4, 16, 256).spec()).steps(4).batch(4)
        .microBatch(pp > 1 ? 1 : 4 / dp).lr(1e-3).minLrFraction(0.1).warmup(0).weightDecay(0.1).gradClip(1.0).seed(7)
        .evalEvery(0).evalBatches(0).threads(1).gemm("vector").data(TestCorpus.letters(dir)).parallel(par).build()
        .validate();
    Trainer.Result r = new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).run();
    assertThat(r.steps()).hasSize(4);
    for (StepMetrics m : r.steps()) {
      assertThat(m.exposedCommMs()).as("step %d", m.step()).isGreaterThanOrEqualTo(0)
          .isLessThanOrEqualTo(m.commMs() + 1e-5);
      if (layout.equals("one device")) {
        assertThat(m.commBytes()).isZero();
      } else {
        assertThat(m.commBytes()).as("step %d", m.step()).isPositive();
        assertThat(m.commMs()).as("step %d", m.step()).isPositive();
      }
    }
  }
}
