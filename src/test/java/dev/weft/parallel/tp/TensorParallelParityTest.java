package dev.weft.parallel.tp;

import dev.weft.model.GPT2;
import dev.weft.model.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.Gradients;
import dev.weft.train.TestCorpus;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parallel equals serial for tensor parallelism, with and without sequence parallelism, and composed with
 * data parallelism and ZeRO: gathered gradients of every parameter within 1e-4 relative norm error, and 20
 * training steps with losses within 1e-5 relative and final parameters within 1e-4. The vocabulary (250)
 * is not a multiple of 4, so tp = 4 also proves the padding.
 */
class TensorParallelParityTest {
  static final GPT2Config MODEL = new GPT2Config(2, 32, 4, 16, 250);
  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());
  @TempDir static Path dir;
  static Path data;
  static ParameterLayout layout;
  static float[] weights;
  static int[] tokens;
  static Gradients.Result serialGrads;
  static Trainer.Result serialRun;

  @BeforeAll
  static void oneDevice() throws IOException {
    layout = new ParameterLayout(MODEL);
    weights = TestCorpus.perturbedWeights(layout);
    tokens = TestCorpus.randomTokens(4, 16, 250);
    serialGrads = Gradients.compute(layout, weights, tokens, 4, 16, TrainConfig.Parallelism.single(), 1, "vector");
    data = TestCorpus.letters(dir);
    serialRun = new Trainer(config(new TrainConfig.Parallelism(1, 1, false, 0, "local", 60), 8), QUIET).run();
  }

  static TrainConfig config(TrainConfig.Parallelism p, int microBatch) {
    return new TrainConfig(MODEL, 20, 0, 8, microBatch, 3e-3, 0.1, 3, 0.1, 1.0, 5, 0, 0, 1, "vector",
        DeviceMemory.UNLIMITED, data, null, null, 0, null, null, p);
  }

  @ParameterizedTest(name = "dp={0} tp={1} sp={2} zero={3}")
  @CsvSource({"1,2,false,0", "1,2,true,0", "1,4,false,0", "1,4,true,0", "2,2,false,0", "2,2,true,1", "2,2,false,2",
      "2,2,true,3"})
  void gatheredGradientsEqualOneDevice(int dp, int tp, boolean sp, int zero) {
    Gradients.Result g = Gradients.compute(layout, weights, tokens, 4, 16,
        new TrainConfig.Parallelism(dp, tp, sp, zero, "local", 60), 1, "vector");
    TestCorpus.assertSameGradients(layout, g, serialGrads);
  }

  @ParameterizedTest(name = "dp={0} tp={1} sp={2} zero={3}")
  @CsvSource({"1,2,false,0", "1,2,true,0", "1,4,false,0", "1,4,true,0", "2,2,false,0", "2,2,true,3"})
  void trainsTheSameModelAsOneDevice(int dp, int tp, boolean sp, int zero) {
    Trainer.Result par = new Trainer(config(new TrainConfig.Parallelism(dp, tp, sp, zero, "local", 60), 8 / dp / 2),
        QUIET).run();
    TestCorpus.assertTrainsAlike(par, serialRun);
  }
}
