package dev.weft.models.tinyfamily;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.model.ModelSpec;
import dev.weft.model.ParamSpec;
import dev.weft.parallel.Parallelism;
import dev.weft.train.ParityRun;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A family added by writing one package ({@link TinyFamily}: GPT-2 with RMSNorm and no biases) is trained by the
 * unchanged core: 20 steps on the seeded letters corpus lower the loss, and tensor parallelism (tp = 2) and a
 * two-stage pipeline (pp = 2, 1F1B, four micro-batches) train it exactly as one device does (every step's loss
 * within 1e-5 relative, parameters after the run within 1e-4 relative norm: {@code TestCorpus.assertTrainsAlike}).
 */
class TinyFamilyTest {
  static final ModelSpec MODEL = new TinyFamily.Config(2, 32, 4, 16, 256).spec();
  @TempDir static Path dir;
  static ParityRun run;

  @BeforeAll
  static void oneDevice() throws IOException {
    run = new ParityRun(MODEL, dir, 8, 0);
  }

  @Test
  void theDeclarationIsWhatTheFamilySays() {
    assertThat(MODEL.family()).isSameAs(TinyFamily.INSTANCE);
    assertThat(MODEL.tied()).isTrue();
    assertThat(MODEL.params()).extracting(ParamSpec::name).doesNotContain("h.0.attn.qkv.bias")
        .contains("wte.weight", "wpe.weight", "h.1.rms_2.weight", "rms_f.weight");
    // V C + T C + L (2 C + 3 C^2 + C^2 + 8 C^2) + C: no biases
    int C = 32;
    assertThat(MODEL.parameterCount()).isEqualTo(256L * C + 16L * C + 2L * (2 * C + 12L * C * C) + C);
  }

  @Test
  void itTrainsOnOneDevice() {
    List<StepMetrics> steps = run.serial().steps();
    assertThat(steps).hasSize(20);
    double first = steps.get(0).loss(), last = steps.get(19).loss();
    System.out.printf("tiny family, one device: loss %.4f -> %.4f over 20 steps%n", first, last);
    // from about ln 256 = 5.5 (uniform over bytes) towards ln 12 = 2.5 (uniform over the 12 letters)
    assertThat(first).isGreaterThan(5.0);
    assertThat(last).isLessThan(first - 1.0);
  }

  @Test
  void tensorParallelismTrainsItLikeOneDevice() {
    Trainer.Result r = run.assertTrainsLikeOneDevice(Parallelism.builder().tp(2).build(), 4);
    assertThat(r.steps()).hasSize(20);
  }

  @Test
  void aPipelineTrainsItLikeOneDevice() {
    Trainer.Result r = run.assertTrainsLikeOneDevice(
        Parallelism.builder().pp(2).build(), 2);
    assertThat(r.steps()).hasSize(20);
  }
}
