package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.models.gpt2.GPT2Config;
import dev.weft.parallel.Parallelism;
import dev.weft.plan.RunPrediction;
import dev.weft.tensor.DeviceMemory;
import dev.weft.trace.RunSummary;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The end-of-run summary prints the planner's prediction for the run's own layout beside the measurement. */
class SummaryTest {
  @TempDir Path dir;

  @Test
  void summaryPrintsThePlannersStepTimeAndPeakPerDeviceBesideTheMeasuredOnes() throws Exception {
    Path data = dir.resolve("d.txt");
    Files.writeString(data, "int x = 1; return x + 2;\n".repeat(400));
    TrainConfig cfg = TrainConfig.builder(new GPT2Config(2, 16, 2, 16, 256).spec()).steps(4).batch(4).microBatch(1)
        .lr(1e-3).warmup(0).seed(1).evalEvery(0).evalBatches(0).threads(1).data(data)
        .parallel(Parallelism.builder().dp(2).build()).build();
    Trainer.Result r = new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).run();
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    RunSummary s = Summary.print(new PrintStream(buf, true, StandardCharsets.UTF_8), cfg, r, false);
    String out = buf.toString(StandardCharsets.UTF_8);
    RunPrediction p = RunPrediction.of(cfg);
    assertThat(out).contains(String.format(Locale.ROOT, "planner: step %.1f ms predicted, %.1f ms measured (median; "
        + "measured / predicted %.2f)", p.stepSeconds() * 1e3, s.stepMs(), s.stepMs() / (p.stepSeconds() * 1e3)));
    long[] peaks = r.steps().get(r.steps().size() - 1).peakBytesPerDevice();
    for (int d = 0; d < 2; d++) {
      assertThat(out).contains(String.format(Locale.ROOT, "device %d %s predicted, %s measured", d,
          DeviceMemory.format(p.memoryPerDevice().get(d).total()), DeviceMemory.format(peaks[d])));
    }
    assertThat(out).contains(RunPrediction.isCalibrated() ? "this machine's calibration" : "this machine is not calibrated");
    assertThat(s.mfu()).isNull();
  }
}
