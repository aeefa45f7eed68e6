package dev.weft.parallel.pp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.model.GPT2Config;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parallel equals serial for pipeline parallelism: 20 training steps of GPT-2 under every schedule, pp = 2
 * and 4, m = 1, 4, 8 micro-batches, and pp=2 x dp=2, pp=2 x tp=2, against one device from the same seed and
 * data: losses within 1e-5 relative per step, parameters after the run within 1e-4 relative norm error.
 */
class PipelineParityTest {
  static final GPT2Config MODEL = new GPT2Config(8, 32, 4, 16, 256);
  static final int BATCH = 8;
  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
  @TempDir static Path dir;
  static Path data;
  static Trainer.Result serial;

  @BeforeAll
  static void oneDevice() throws IOException {
    data = dev.weft.train.TestCorpus.letters(dir);
    serial = new Trainer(config(TrainConfig.Parallelism.single(), BATCH), QUIET).run();
  }

  static TrainConfig config(TrainConfig.Parallelism p, int microBatch) {
    return new TrainConfig(MODEL, 20, 0, BATCH, microBatch, 3e-3, 0.1, 3, 0.1, 1.0, 5, 0, 2, 1, "vector",
        DeviceMemory.UNLIMITED, data, null, null, 0, null, null, p);
  }

  @ParameterizedTest(name = "{0} pp={1} m={2} v={3} dp={4} tp={5} zero={6}")
  @CsvSource({
      "naive,2,4,1,1,1,0", "gpipe,2,1,1,1,1,0", "gpipe,2,4,1,1,1,0", "gpipe,4,8,1,1,1,0",
      "1f1b,2,1,1,1,1,0", "1f1b,2,8,1,1,1,0", "1f1b,4,4,1,1,1,0", "1f1b,4,8,1,1,1,0",
      "interleaved,2,4,2,1,1,0", "interleaved,4,8,2,1,1,0",
      "zb,2,4,1,1,1,0", "zb,4,8,1,1,1,0",
      "1f1b,2,2,1,2,1,1", "1f1b,2,4,1,1,2,0"})
  void trainsTheSameModelAsOneDevice(String schedule, int pp, int m, int v, int dp, int tp, int zero) {
    TrainConfig.Parallelism p = new TrainConfig.Parallelism(dp, tp, pp, false, zero, schedule, v, "local", 60);
    Trainer.Result par = new Trainer(config(p, BATCH / dp / m), QUIET).run();
    List<StepMetrics> a = serial.steps();
    List<StepMetrics> b = par.steps();
    assertThat(b).hasSize(a.size());
    for (int i = 0; i < a.size(); i++) {
      double rel = Math.abs(b.get(i).loss() - a.get(i).loss()) / a.get(i).loss();
      assertThat(rel).as("loss of step %d: %s vs %s", i + 1, b.get(i).loss(), a.get(i).loss()).isLessThan(1e-5);
    }
    assertThat(Math.abs(par.finalValLoss() - serial.finalValLoss()) / serial.finalValLoss()).isLessThan(1e-5);
    assertThat(dev.weft.train.TestCorpus.relativeError(par.finalParams(), serial.finalParams())).as("parameters after 20 steps").isLessThan(1e-4);
  }
}
