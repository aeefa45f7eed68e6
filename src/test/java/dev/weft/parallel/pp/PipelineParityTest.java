package dev.weft.parallel.pp;


import dev.weft.model.GPT2Config;
import dev.weft.tensor.DeviceMemory;
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
 * Parallel equals serial for pipeline parallelism: 20 training steps of GPT-2 under every schedule, pp = 2
 * and 4, m = 1, 4, 8 micro-batches, and pp=2 x dp=2 (ZeRO 1-3), pp=2 x tp=2, pp=2 x cp=2 (ring and
 * all-to-all, also with dp or tp), against one device from the same seed and data: losses within 1e-5 relative per step,
 * parameters after the run within 1e-4 relative norm error.
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
    data = TestCorpus.letters(dir);
    serial = new Trainer(config(TrainConfig.Parallelism.single(), BATCH), QUIET).run();
  }

  static TrainConfig config(TrainConfig.Parallelism p, int microBatch) {
    return new TrainConfig(MODEL, 20, 0, BATCH, microBatch, 3e-3, 0.1, 3, 0.1, 1.0, 5, 0, 2, 1, "vector",
        DeviceMemory.UNLIMITED, data, null, null, 0, null, null, p);
  }

  @ParameterizedTest(name = "grads {0} pp={1} dp={2} tp={3}")
  @CsvSource({"gpipe,2,1,1", "1f1b,2,1,1", "1f1b,4,1,1", "interleaved,2,1,1", "zb,2,1,1", "zb,4,1,1", "naive,2,1,1",
      "1f1b,2,2,1", "1f1b,2,1,2"})
  void gatheredGradientsEqualOneDevice(String schedule, int pp, int dp, int tp) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertGradientsEqualOneDevice(new TrainConfig.Parallelism(dp, tp, pp, false, 0, schedule, v, "local", 60));
  }

  @ParameterizedTest(name = "grads {0} pp={1} cp={2} {3} dp={4} tp={5}")
  @CsvSource({"1f1b,2,2,ring,1,1", "zb,2,2,alltoall,1,1", "interleaved,2,2,ring,1,1", "1f1b,2,2,ring,2,1",
      "1f1b,2,2,ring,1,2"})
  void contextParallelStagesGatherTheGradientsOfOneDevice(String schedule, int pp, int cp, String method, int dp, int tp) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertGradientsEqualOneDevice(new TrainConfig.Parallelism(dp, tp, pp, cp, false, 0, schedule, v, method, "local", 60));
  }

  @ParameterizedTest(name = "grads {0} pp=2 dp=2 zero={1}")
  @CsvSource({"1f1b,2", "1f1b,3", "zb,3", "interleaved,3"})
  void zeroShardedPipelinesGatherTheGradientsOfOneDevice(String schedule, int zero) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertGradientsEqualOneDevice(new TrainConfig.Parallelism(2, 1, 2, false, zero, schedule, v, "local", 60));
  }

  private static void assertGradientsEqualOneDevice(TrainConfig.Parallelism par) {
    dev.weft.model.ParameterLayout layout = new dev.weft.model.ParameterLayout(MODEL);
    float[] weights = new float[layout.total()];
    dev.weft.model.GPT2.initialize(layout, 3, weights, 0, layout.total());
    SplittableRandom r = new SplittableRandom(4);
    for (int i = 0; i < weights.length; i++) weights[i] += (float) (0.01 * r.nextGaussian());
    int[] tokens = new int[4 * 17];
    for (int i = 0; i < tokens.length; i++) tokens[i] = r.nextInt(256);
    dev.weft.train.Gradients.Result serialGrads = dev.weft.train.Gradients.compute(layout, weights, tokens, 4, 16,
        TrainConfig.Parallelism.single(), 1, "vector");
    dev.weft.train.Gradients.Result g = dev.weft.train.Gradients.compute(layout, weights, tokens, 4, 16, par, 1, "vector");
    TestCorpus.assertSameGradients(layout, g, serialGrads);
  }

  @ParameterizedTest(name = "{0} pp={1} m={2} cp={3} {4} dp={5} tp={6}")
  @CsvSource({"1f1b,2,4,2,ring,1,1", "gpipe,2,2,2,alltoall,1,1", "zb,2,4,2,ring,1,1", "interleaved,2,4,2,alltoall,1,1",
      "1f1b,2,2,2,ring,2,1", "1f1b,2,4,2,alltoall,1,2"})
  void contextParallelStagesTrainTheSameModelAsOneDevice(String schedule, int pp, int m, int cp, String method, int dp,
                                                         int tp) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertTrainsLikeOneDevice(new TrainConfig.Parallelism(dp, tp, pp, cp, false, 0, schedule, v, method, "local", 60),
        BATCH / dp / m);
  }

  @ParameterizedTest(name = "split {0}")
  @CsvSource({"'3,2,2,1'", "params", "flops"})
  void unevenStageSplitsTrainTheSameModel(String split) {
    TrainConfig.Parallelism p = new TrainConfig.Parallelism(1, 1, 4, 1, false, 0, "1f1b", 1, "ring", "local", 60, split);
    TestCorpus.assertTrainsAlike(new Trainer(config(p, 2), QUIET).run(), serial);
  }

  @ParameterizedTest(name = "{0} pp={1} m={2} v={3} dp={4} tp={5} zero={6}")
  @CsvSource({
      "naive,2,4,1,1,1,0", "gpipe,2,1,1,1,1,0", "gpipe,2,4,1,1,1,0", "gpipe,4,8,1,1,1,0",
      "1f1b,2,1,1,1,1,0", "1f1b,2,8,1,1,1,0", "1f1b,4,4,1,1,1,0", "1f1b,4,8,1,1,1,0",
      "interleaved,2,4,2,1,1,0", "interleaved,4,8,2,1,1,0",
      "zb,2,4,1,1,1,0", "zb,4,8,1,1,1,0",
      "1f1b,2,2,1,2,1,1", "1f1b,2,4,1,1,2,0",
      "1f1b,2,2,1,2,1,2", "gpipe,2,2,1,2,1,3", "interleaved,2,2,2,2,1,3", "zb,2,2,1,2,1,3", "1f1b,2,2,1,2,2,3"})
  void trainsTheSameModelAsOneDevice(String schedule, int pp, int m, int v, int dp, int tp, int zero) {
    assertTrainsLikeOneDevice(new TrainConfig.Parallelism(dp, tp, pp, false, zero, schedule, v, "local", 60), BATCH / dp / m);
  }

  private static void assertTrainsLikeOneDevice(TrainConfig.Parallelism p, int microBatch) {
    TestCorpus.assertTrainsAlike(new Trainer(config(p, microBatch), QUIET).run(), serial);
  }
}
