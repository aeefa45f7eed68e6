package dev.weft.models.llama;

import dev.weft.model.ModelSpec;
import dev.weft.train.ParityRun;
import dev.weft.parallel.Parallelism;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parallel equals serial for Llama (grouped-query attention 2:1, rotary positions, SwiGLU, untied head), whose
 * one-device numbers LlamaReferenceTest holds against HF's definition: one forward and backward under tensor
 * parallelism (K/V heads split with their query heads; with sequence parallelism), context parallelism (ring on
 * the load-balanced positions, Ulysses on K/V heads split over cp), a pipeline and data parallelism with ZeRO
 * gives the loss within 1e-5 relative and every gathered gradient within 1e-4 relative norm error
 * ({@code TestCorpus.assertSameGradients}).
 */
class LlamaGradientParityTest {
  static final ModelSpec MODEL = new LlamaConfig(2, 32, 4, 2, 8, 48, 16, 256, 10000, 1e-5, false).spec();
  @TempDir static Path dir;
  static ParityRun run;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(MODEL, dir, 4, 0);
  }

  @ParameterizedTest(name = "dp={0} tp={1} pp={2} cp={3} {4} sp={5} zero={6}")
  @CsvSource({"1,2,1,1,ring,false,0", "1,2,1,1,ring,true,0", "1,1,1,2,ring,false,0", "1,1,1,2,alltoall,false,0",
      "1,2,1,2,ring,false,0", "1,1,2,1,ring,false,0", "2,1,1,1,ring,false,3"})
  void gatheredGradientsEqualOneDevice(int dp, int tp, int pp, int cp, String method, boolean sp, int zero) {
    run.assertGradientsLikeOneDevice(
        Parallelism.builder().dp(dp).tp(tp).pp(pp).context(cp, method).sp(sp).zero(zero).build(), 4);
  }
}
