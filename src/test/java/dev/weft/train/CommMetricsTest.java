package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.model.GPT2Config;
import dev.weft.tensor.DeviceMemory;
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
    TrainConfig.Parallelism par = new TrainConfig.Parallelism(dp, tp, pp, cp, false, zero, "1f1b", 1, "ring", "local",
        60);
    TrainConfig cfg = new TrainConfig(new GPT2Config(2, 32, 4, 16, 256), 4, 0, 4, pp > 1 ? 1 : 4 / dp, 1e-3, 0.1,
        0, 0.1, 1.0, 7, 0, 0, 1, "vector", DeviceMemory.UNLIMITED, TestCorpus.letters(dir), null, null, 0, null, null,
        par).validate();
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
