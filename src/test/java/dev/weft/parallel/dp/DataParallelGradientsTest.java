package dev.weft.parallel.dp;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.decoder.Decoder;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.train.Gradients;
import dev.weft.train.TrainConfig;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The gathered gradient of every parameter under dp = 2, 4 and every ZeRO stage equals one device's within
 * 1e-4 relative norm error per parameter (summation order is the only difference), and the loss within 1e-5.
 */
class DataParallelGradientsTest {
  static final ModelSpec MODEL = new GPT2Config(2, 24, 3, 9, 256).spec();
  static final int B = 4;
  static final int T = 9;
  static ParameterLayout layout;
  static float[] weights;
  static int[] tokens;
  static Gradients.Result serial;

  @BeforeAll
  static void oneDevice() {
    layout = new ParameterLayout(MODEL);
    weights = new float[layout.total()];
    dev.weft.model.Initializer.initialize(layout, 3, weights);
    SplittableRandom r = new SplittableRandom(4);
    for (int i = 0; i < weights.length; i++) weights[i] += (float) (0.01 * r.nextGaussian());
    tokens = new int[B * (T + 1)];
    for (int i = 0; i < tokens.length; i++) tokens[i] = r.nextInt(256);
    serial = Gradients.compute(layout, weights, tokens, B, T, Parallelism.SINGLE, 1, "vector");
  }

  @ParameterizedTest(name = "dp={0} zero={1}")
  @CsvSource({"2,0", "2,1", "2,2", "2,3", "4,0", "4,1", "4,2", "4,3"})
  void gatheredGradientsEqualOneDevice(int dp, int zero) {
    Gradients.Result g = Gradients.compute(layout, weights, tokens, B, T,
        Parallelism.builder().dp(dp).zero(zero).build(), 1, "vector");
    assertThat(Math.abs(g.loss() - (double) serial.loss()) / serial.loss()).isLessThan(1e-5);
    for (ParameterLayout.Param p : layout.params()) {
      double d = 0, n = 0;
      for (int i = p.offset(); i < p.offset() + p.size(); i++) {
        d += Math.pow(g.grads()[i] - serial.grads()[i], 2);
        n += Math.pow(serial.grads()[i], 2);
      }
      assertThat(n).as("gradient of %s is not trivially zero", p.name()).isGreaterThan(0);
      assertThat(Math.sqrt(d / n)).as(p.name()).isLessThan(1e-4);
    }
  }
}
