package dev.weft.parallel.pp;

import dev.weft.parallel.Parallelism;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.train.ParityRun;
import dev.weft.train.TrainConfig;
import java.io.IOException;
import java.nio.file.Path;
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
  static final ModelSpec MODEL = new GPT2Config(8, 32, 4, 16, 256).spec();
  static final int BATCH = 8;
  @TempDir static Path dir;
  static ParityRun run;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(MODEL, dir, BATCH, 2);
  }

  @ParameterizedTest(name = "grads {0} pp={1} dp={2} tp={3}")
  @CsvSource({"gpipe,2,1,1", "1f1b,2,1,1", "1f1b,4,1,1", "interleaved,2,1,1", "zb,2,1,1", "zb,4,1,1", "naive,2,1,1",
      "1f1b,2,2,1", "1f1b,2,1,2"})
  void gatheredGradientsEqualOneDevice(String schedule, int pp, int dp, int tp) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertGradientsEqualOneDevice(Parallelism.builder().dp(dp).tp(tp).pp(pp).schedule(schedule).virtualStages(v).build());
  }

  @ParameterizedTest(name = "grads {0} pp={1} cp={2} {3} dp={4} tp={5}")
  @CsvSource({"1f1b,2,2,ring,1,1", "zb,2,2,alltoall,1,1", "interleaved,2,2,ring,1,1", "1f1b,2,2,ring,2,1",
      "1f1b,2,2,ring,1,2"})
  void contextParallelStagesGatherTheGradientsOfOneDevice(String schedule, int pp, int cp, String method, int dp, int tp) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertGradientsEqualOneDevice(Parallelism.builder().dp(dp).tp(tp).pp(pp).cp(cp).schedule(schedule).virtualStages(v).cpMethod(method).build());
  }

  @ParameterizedTest(name = "grads {0} pp=2 dp=2 zero={1}")
  @CsvSource({"1f1b,2", "1f1b,3", "zb,3", "interleaved,3"})
  void zeroShardedPipelinesGatherTheGradientsOfOneDevice(String schedule, int zero) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertGradientsEqualOneDevice(Parallelism.builder().dp(2).pp(2).zero(zero).schedule(schedule).virtualStages(v).build());
  }

  private static void assertGradientsEqualOneDevice(Parallelism par) {
    run.assertGradientsLikeOneDevice(par, 4);
  }

  @ParameterizedTest(name = "{0} pp={1} m={2} cp={3} {4} dp={5} tp={6}")
  @CsvSource({"1f1b,2,4,2,ring,1,1", "gpipe,2,2,2,alltoall,1,1", "zb,2,4,2,ring,1,1", "interleaved,2,4,2,alltoall,1,1",
      "1f1b,2,2,2,ring,2,1", "1f1b,2,4,2,alltoall,1,2"})
  void contextParallelStagesTrainTheSameModelAsOneDevice(String schedule, int pp, int m, int cp, String method, int dp,
                                                         int tp) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertTrainsLikeOneDevice(Parallelism.builder().dp(dp).tp(tp).pp(pp).cp(cp).schedule(schedule).virtualStages(v).cpMethod(method).build(),
        BATCH / dp / m);
  }

  /**
   * Sequence-parallel stages: the replicated parameters' gradients (LayerNorms, row-parallel biases) are
   * summed over the tensor-parallel group once the step's micro-batches are done (ZeRO 0-1 defer every
   * reduction to then), or per micro-batch (ZeRO 2-3).
   */
  @ParameterizedTest(name = "pp=2 tp=2 sp dp={0} zero={1} {2}")
  @CsvSource({"1,0,1f1b", "1,0,interleaved", "2,1,gpipe", "2,3,zb"})
  void sequenceParallelStagesTrainTheSameModelAsOneDevice(int dp, int zero, String schedule) {
    int v = schedule.equals("interleaved") ? 2 : 1;
    assertTrainsLikeOneDevice(Parallelism.builder().dp(dp).tp(2).sp(true).zero(zero).pp(2).schedule(schedule)
        .virtualStages(v).build(), 2);
  }

  @ParameterizedTest(name = "split {0}")
  @CsvSource({"'3,2,2,1'", "params", "flops"})
  void unevenStageSplitsTrainTheSameModel(String split) {
    Parallelism p = Parallelism.builder().pp(4).stageSplit(dev.weft.parallel.pp.StageSplit.parse(split)).build();
    run.assertTrainsLikeOneDevice(p, 2);
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
    assertTrainsLikeOneDevice(Parallelism.builder().dp(dp).tp(tp).pp(pp).zero(zero).schedule(schedule).virtualStages(v).build(), BATCH / dp / m);
  }

  private static void assertTrainsLikeOneDevice(Parallelism p, int microBatch) {
    run.assertTrainsLikeOneDevice(p, microBatch);
  }
}
