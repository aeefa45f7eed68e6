package dev.weft.parallel.tp;

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
 * Parallel equals serial for tensor parallelism, with and without sequence parallelism, and composed with
 * data parallelism and ZeRO: gathered gradients of every parameter within 1e-4 relative norm error, and 20
 * training steps with losses within 1e-5 relative and final parameters within 1e-4. The vocabulary (250)
 * is not a multiple of 4, so tp = 4 also proves the padding.
 */
class TensorParallelParityTest {
  static final ModelSpec MODEL = new GPT2Config(2, 32, 4, 16, 250).spec();
  @TempDir static Path dir;
  static ParityRun run;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(MODEL, dir, 8, 0);
  }

  @ParameterizedTest(name = "dp={0} tp={1} sp={2} zero={3}")
  @CsvSource({"1,2,false,0", "1,2,true,0", "1,4,false,0", "1,4,true,0", "2,2,false,0", "2,2,true,1", "2,2,false,2",
      "2,2,true,3"})
  void gatheredGradientsEqualOneDevice(int dp, int tp, boolean sp, int zero) {
    run.assertGradientsLikeOneDevice(Parallelism.builder().dp(dp).tp(tp).sp(sp).zero(zero).build(), 4);
  }

  @ParameterizedTest(name = "dp={0} tp={1} sp={2} zero={3}")
  @CsvSource({"1,2,false,0", "1,2,true,0", "1,4,false,0", "1,4,true,0", "2,2,false,0", "2,2,true,3"})
  void trainsTheSameModelAsOneDevice(int dp, int tp, boolean sp, int zero) {
    run.assertTrainsLikeOneDevice(Parallelism.builder().dp(dp).tp(tp).sp(sp).zero(zero).build(), 8 / dp / 2);
  }
}
