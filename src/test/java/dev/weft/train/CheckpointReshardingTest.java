package dev.weft.train;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.tensor.DeviceMemory;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Checkpoints do not depend on the layout that wrote them: a run saved at step 4 under one layout and
 * resumed under another (sharded optimizer state regathered and cut anew, pipeline stages reassembled,
 * tensor-parallel slices rejoined) continues as one device's uninterrupted 8 steps: every loss within
 * 1e-5 relative, parameters at the end within 1e-4.
 */
class CheckpointReshardingTest {
  static final ModelSpec MODEL = new GPT2Config(4, 32, 4, 16, 256).spec();
  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
  @TempDir static Path dir;
  static Path data;
  static Trainer.Result whole;

  @BeforeAll
  static void oneDeviceUninterrupted() throws IOException {
    data = TestCorpus.letters(dir);
    whole = new Trainer(config(Parallelism.SINGLE, 0, null, null), QUIET).run();
  }

  static TrainConfig config(Parallelism p, int stopAfter, Path save, Path resume) {
    return TrainConfig.builder(MODEL).steps(8).stopAfter(stopAfter).batch(8).microBatch(2).lr(3e-3).warmup(2).seed(7).evalEvery(0).evalBatches(2).threads(1).data(data).save(save).resume(resume).parallel(p).build();
  }

  /** dp, tp, pp, cp, sp, zero as in a CSV row. */
  static Parallelism layout(String spec) {
    String[] f = spec.trim().split(" ");
    int dp = Integer.parseInt(f[0]), tp = Integer.parseInt(f[1]), pp = Integer.parseInt(f[2]), cp = Integer.parseInt(f[3]);
    return Parallelism.builder().dp(dp).tp(tp).pp(pp).cp(cp).sp(f[4].equals("sp")).zero(Integer.parseInt(f[5])).build();
  }

  @ParameterizedTest(name = "saved under [{0}], resumed under [{1}]")
  @CsvSource({"2 1 1 1 - 3, 1 2 1 1 sp 0", "1 1 2 1 - 0, 1 1 1 2 - 0", "1 2 1 1 - 0, 2 1 2 1 - 1",
      "4 1 1 1 - 2, 1 1 1 1 - 0", "1 1 1 1 - 0, 2 2 1 1 sp 3"})
  void aRunSavedUnderOneLayoutResumesUnderAnother(String saved, String resumed, @TempDir Path ck) {
    List<StepMetrics> first = new Trainer(config(layout(saved), 4, ck, null), QUIET).run().steps();
    Trainer.Result rest = new Trainer(config(layout(resumed), 0, null, ck), QUIET).run();
    assertThat(first).hasSize(4);
    assertThat(rest.steps()).hasSize(4);
    List<StepMetrics> want = whole.steps();
    for (int i = 0; i < 8; i++) {
      StepMetrics got = i < 4 ? first.get(i) : rest.steps().get(i - 4);
      assertThat(got.step()).isEqualTo(i + 1);
      assertThat(Math.abs(got.loss() - want.get(i).loss()) / want.get(i).loss()).as("loss of step %d", i + 1)
          .isLessThan(1e-5);
    }
    assertThat(TestCorpus.relativeError(rest.finalParams(), whole.finalParams())).isLessThan(1e-4);
  }
}
