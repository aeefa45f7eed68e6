package dev.weft.parallel.cp;

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
 * Parallel equals serial for context parallelism: sequences split over cp = 2, 4 ranks with ring (load
 * balanced) and all-to-all attention, and cp=2 x dp=2, cp=2 x tp=2: gathered gradients of every parameter
 * within 1e-4 relative norm error, 20 training steps with losses within 1e-5 relative and parameters within
 * 1e-4.
 */
class ContextParallelParityTest {
  static final ModelSpec MODEL = new GPT2Config(2, 32, 4, 32, 256).spec();
  @TempDir static Path dir;
  static ParityRun run;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(MODEL, dir, 4, 2);
  }

  @ParameterizedTest(name = "cp={0} {1} dp={2} tp={3} zero={4}")
  @CsvSource({"2,ring,1,1,0", "4,ring,1,1,0", "2,alltoall,1,1,0", "4,alltoall,1,1,0", "2,ring,2,1,1", "2,alltoall,2,1,3",
      "2,ring,1,2,0", "2,alltoall,1,2,0"})
  void gatheredGradientsEqualOneDevice(int cp, String method, int dp, int tp, int zero) {
    run.assertGradientsLikeOneDevice(Parallelism.builder().dp(dp).tp(tp).cp(cp).zero(zero).cpMethod(method).build(), 4);
  }

  @ParameterizedTest(name = "cp={0} {1} dp={2} tp={3}")
  @CsvSource({"2,ring,1,1", "4,ring,1,1", "2,alltoall,1,1", "4,alltoall,1,1", "2,ring,2,1", "2,ring,1,2"})
  void trainsTheSameModelAsOneDevice(int cp, String method, int dp, int tp) {
    run.assertTrainsLikeOneDevice(Parallelism.builder().dp(dp).tp(tp).cp(cp).cpMethod(method).build(), 4 / dp);
  }

  /** Megatron sequence parallelism in the tensor-parallel group of context-parallel ranks: rows split twice. */
  @ParameterizedTest(name = "cp=2 {0} tp=2 sp")
  @CsvSource({"ring", "alltoall"})
  void sequenceParallelTensorGroupsOfContextParallelRanksMatchOneDevice(String method) {
    Parallelism p = Parallelism.builder().tp(2).cp(2).sp(true).cpMethod(method).build();
    run.assertGradientsLikeOneDevice(p, 4);
    run.assertTrainsLikeOneDevice(p, 4);
  }
}
