package dev.weft.parallel.cp;

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
 * Parallel equals serial for context parallelism: sequences split over cp = 2, 4 ranks with ring (load
 * balanced) and all-to-all attention, and cp=2 x dp=2, cp=2 x tp=2: gathered gradients of every parameter
 * within 1e-4 relative norm error, 20 training steps with losses within 1e-5 relative and parameters within
 * 1e-4.
 */
class ContextParallelParityTest {
  static final GPT2Config MODEL = new GPT2Config(2, 32, 4, 32, 256);
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
    tokens = TestCorpus.randomTokens(4, 32, 256);
    serialGrads = Gradients.compute(layout, weights, tokens, 4, 32, TrainConfig.Parallelism.single(), 1, "vector");
    data = TestCorpus.letters(dir);
    serialRun = new Trainer(config(TrainConfig.Parallelism.single(), 4), QUIET).run();
  }

  static TrainConfig config(TrainConfig.Parallelism p, int microBatch) {
    return new TrainConfig(MODEL, 20, 0, 4, microBatch, 3e-3, 0.1, 3, 0.1, 1.0, 5, 0, 2, 1, "vector",
        DeviceMemory.UNLIMITED, data, null, null, 0, null, null, p);
  }

  @ParameterizedTest(name = "cp={0} {1} dp={2} tp={3} zero={4}")
  @CsvSource({"2,ring,1,1,0", "4,ring,1,1,0", "2,alltoall,1,1,0", "4,alltoall,1,1,0", "2,ring,2,1,1", "2,alltoall,2,1,3",
      "2,ring,1,2,0", "2,alltoall,1,2,0"})
  void gatheredGradientsEqualOneDevice(int cp, String method, int dp, int tp, int zero) {
    Gradients.Result g = Gradients.compute(layout, weights, tokens, 4, 32,
        TrainConfig.Parallelism.context(dp, tp, cp, method, zero), 1, "vector");
    TestCorpus.assertSameGradients(layout, g, serialGrads);
  }

  @ParameterizedTest(name = "cp={0} {1} dp={2} tp={3}")
  @CsvSource({"2,ring,1,1", "4,ring,1,1", "2,alltoall,1,1", "4,alltoall,1,1", "2,ring,2,1", "2,ring,1,2"})
  void trainsTheSameModelAsOneDevice(int cp, String method, int dp, int tp) {
    Trainer.Result par = new Trainer(config(TrainConfig.Parallelism.context(dp, tp, cp, method, 0), 4 / dp), QUIET).run();
    TestCorpus.assertTrainsAlike(par, serialRun);
  }

  /** Megatron sequence parallelism in the tensor-parallel group of context-parallel ranks: rows split twice. */
  @ParameterizedTest(name = "cp=2 {0} tp=2 sp")
  @CsvSource({"ring", "alltoall"})
  void sequenceParallelTensorGroupsOfContextParallelRanksMatchOneDevice(String method) {
    TrainConfig.Parallelism p = new TrainConfig.Parallelism(1, 2, 1, 2, true, 0, "1f1b", 1, method, "local", 60);
    TestCorpus.assertSameGradients(layout, Gradients.compute(layout, weights, tokens, 4, 32, p, 1, "vector"), serialGrads);
    TestCorpus.assertTrainsAlike(new Trainer(config(p, 4), QUIET).run(), serialRun);
  }
}
