package dev.weft.models.llama;

import dev.weft.model.ModelSpec;
import dev.weft.parallel.Parallelism;
import dev.weft.train.ParityRun;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Parallel equals serial for the Llama family, as for GPT-2: a grouped-query Llama (4 query heads sharing 2
 * key/value heads, SwiGLU MLP 40 wide, rotary positions, RMSNorm, an untied head, vocabulary 251 so that
 * tensor parallelism pads it) trains for 20 steps under every paradigm and hybrid as one device does (losses
 * within 1e-5 relative per step, parameters within 1e-4), and its gathered gradients equal one device's
 * (1e-4 relative norm error per tensor); a tied variant does too through pipeline stages and
 * vocabulary-parallel heads. Ring attention passes only the K/V heads and rotary positions follow each
 * context-parallel rank's load-balanced chunks.
 */
class LlamaParityTest {
  static final ModelSpec GQA = new LlamaConfig(4, 32, 4, 2, 8, 40, 16, 251, 10000, 1e-5, false).spec();
  static final ModelSpec TIED = new LlamaConfig(4, 32, 4, 2, 8, 40, 16, 251, 10000, 1e-5, true).spec();
  static final int BATCH = 8;
  @TempDir static Path dir;
  @TempDir static Path tiedDir;
  static ParityRun run;
  static ParityRun tied;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(GQA, dir, BATCH, 2);
    tied = new ParityRun(TIED, tiedDir, BATCH, 0);
  }

  static Parallelism layout(int dp, int tp, boolean sp, int zero, int pp, String schedule, int cp, String method,
                            boolean recompute) {
    return Parallelism.builder().dp(dp).tp(tp).sp(sp).zero(zero).pp(pp).schedule(schedule)
        .virtualStages(schedule.equals("interleaved") ? 2 : 1).cp(cp).cpMethod(method).recompute(recompute).build();
  }

  @ParameterizedTest(name = "dp={0} tp={1} sp={2} zero={3} pp={4} {5} cp={6} {7} recompute={8} mb={9}")
  @CsvSource({
      "2,1,false,0,1,1f1b,1,ring,false,2", "2,1,false,1,1,1f1b,1,ring,false,4", "2,1,false,2,1,1f1b,1,ring,false,2",
      "2,1,false,3,1,1f1b,1,ring,false,4",
      "1,2,false,0,1,1f1b,1,ring,false,8", "1,2,true,0,1,1f1b,1,ring,false,4", "2,2,true,1,1,1f1b,1,ring,false,2",
      "1,1,false,0,2,gpipe,1,ring,false,2", "1,1,false,0,2,1f1b,1,ring,false,2", "1,1,false,0,2,zb,1,ring,false,2",
      "1,1,false,0,2,interleaved,1,ring,false,2", "1,1,false,0,2,naive,1,ring,false,4",
      "2,1,false,3,2,1f1b,1,ring,false,2", "1,2,true,0,2,1f1b,1,ring,false,2",
      "1,1,false,0,1,1f1b,2,ring,false,4", "1,1,false,0,1,1f1b,2,alltoall,false,4", "1,2,false,0,1,1f1b,2,ring,false,4",
      "2,1,false,2,1,1f1b,2,alltoall,false,2", "1,1,false,0,2,1f1b,2,ring,false,2",
      "1,1,false,0,1,1f1b,1,ring,true,4", "1,2,true,0,1,1f1b,1,ring,true,4", "1,1,false,0,2,1f1b,2,ring,true,2"})
  void trainsTheSameModelAsOneDevice(int dp, int tp, boolean sp, int zero, int pp, String schedule, int cp,
                                     String method, boolean recompute, int microBatch) {
    run.assertTrainsLikeOneDevice(layout(dp, tp, sp, zero, pp, schedule, cp, method, recompute), microBatch);
  }

  @ParameterizedTest(name = "dp={0} tp={1} sp={2} zero={3} pp={4} {5} cp={6} {7}")
  @CsvSource({"2,1,false,3,1,1f1b,1,ring", "1,2,true,0,1,1f1b,1,ring", "1,1,false,0,2,zb,1,ring",
      "1,1,false,0,1,1f1b,2,ring", "1,1,false,0,1,1f1b,2,alltoall", "1,2,false,0,2,1f1b,2,ring"})
  void gatheredGradientsEqualOneDevice(int dp, int tp, boolean sp, int zero, int pp, String schedule, int cp,
                                       String method) {
    run.assertGradientsLikeOneDevice(layout(dp, tp, sp, zero, pp, schedule, cp, method, false), 4);
  }

  @ParameterizedTest(name = "tied: dp={0} tp={1} sp={2} zero={3} pp={4} {5}")
  @CsvSource({"1,2,true,0,1,1f1b", "1,1,false,0,2,1f1b", "1,1,false,0,2,zb", "2,1,false,3,2,1f1b",
      "1,2,false,0,2,interleaved"})
  void aTiedHeadTrainsTheSameModelAsOneDevice(int dp, int tp, boolean sp, int zero, int pp, String schedule) {
    tied.assertTrainsLikeOneDevice(layout(dp, tp, sp, zero, pp, schedule, 1, "ring", false), pp > 1 ? 2 : BATCH / dp / 2);
  }
}
