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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
  static final ModelSpec SMALL = new GPT2Config(2, 32, 4, 32, 256).spec();
  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

  /** A few KB of repetitive, learnable text. */
  static Path corpus(Path dir) throws IOException {
    StringBuilder sb = new StringBuilder();
    SplittableRandom r = new SplittableRandom(1);
    String[] words = {"public", "class", "static", "void", "int", "return", "final", "new", "this", "if"};
    for (int i = 0; i < 4000; i++) {
      sb.append(words[r.nextInt(words.length)]).append(i % 9 == 0 ? ";\n" : " ");
    }
    Path f = dir.resolve("corpus.txt");
    Files.writeString(f, sb);
    return f;
  }

  static TrainConfig config(Path data, int steps, int stopAfter, Path save, Path resume) {
    return TrainConfig.builder(SMALL).steps(steps).stopAfter(stopAfter).batch(4).microBatch(2).lr(3e-3).warmup(2).seed(42).evalEvery(0).evalBatches(2).threads(2).data(data).save(save).resume(resume).parallel(Parallelism.SINGLE).build();
  }

  @Test
  void lossFallsWhileTraining(@TempDir Path dir) throws IOException {
    Trainer.Result r = new Trainer(config(corpus(dir), 40, 0, null, null), QUIET).run();
    List<StepMetrics> s = r.steps();
    assertThat(s).hasSize(40);
    assertThat(s.get(0).loss()).isCloseTo(Math.log(256), org.assertj.core.data.Offset.offset(0.3));
    assertThat(s.get(39).loss()).isLessThan(s.get(0).loss() - 1.5);
    assertThat(r.finalValLoss()).isLessThan(s.get(0).loss() - 1.0);
  }

  @Test
  void resumedRunRepeatsTheUninterruptedLossesExactly(@TempDir Path dir) throws IOException {
    Path data = corpus(dir);
    List<StepMetrics> whole = new Trainer(config(data, 6, 0, null, null), QUIET).run().steps();
    Path ck = dir.resolve("ck");
    List<StepMetrics> first = new Trainer(config(data, 6, 3, ck, null), QUIET).run().steps();
    List<StepMetrics> rest = new Trainer(config(data, 6, 0, null, ck), QUIET).run().steps();
    assertThat(first).hasSize(3);
    assertThat(rest).hasSize(3);
    for (int i = 0; i < 6; i++) {
      StepMetrics got = i < 3 ? first.get(i) : rest.get(i - 3);
      assertThat(got.step()).isEqualTo(i + 1);
      assertThat(got.loss()).as("loss of step %d", i + 1).isEqualTo(whole.get(i).loss());
      assertThat(got.gradNorm()).isEqualTo(whole.get(i).gradNorm());
    }
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-") || n.contains(".old-"));
    }
  }

  @Test
  void peakMemoryMatchesTheSumByHand(@TempDir Path dir) throws IOException {
    Trainer.Result r = new Trainer(config(corpus(dir), 2, 0, null, null), QUIET).run();
    long byHand = r.stateBytes() + r.activationBytes();
    assertThat((double) r.peakBytes() / byHand).isBetween(0.99, 1.01);
  }

  @Test
  void learningRateWarmsUpThenDecaysByCosine() {
    LrSchedule s = new LrSchedule(1.0, 0.1, 10, 110);
    assertThat(s.at(1)).isCloseTo(0.1, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(s.at(10)).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(s.at(60)).isCloseTo(0.55, org.assertj.core.data.Offset.offset(1e-12));
    assertThat(s.at(110)).isCloseTo(0.1, org.assertj.core.data.Offset.offset(1e-12));
  }
}
