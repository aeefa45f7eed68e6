package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * What the tests that train share: small seeded corpora (enough text for 20 steps of batches, learnable but
 * not trivial), seeded weights and tokens, and the parallel-equals-serial assertions with their tolerances.
 */
public final class TestCorpus {
  private TestCorpus() {}

  /** About 23 KB of seeded random letters a-l in lines of seven, written to dir/data.txt. */
  public static Path letters(Path dir) throws IOException {
    StringBuilder sb = new StringBuilder();
    SplittableRandom r = new SplittableRandom(9);
    for (int i = 0; i < 20000; i++) sb.append((char) ('a' + r.nextInt(12))).append(i % 7 == 0 ? "\n" : "");
    Path data = dir.resolve("data.txt");
    Files.writeString(data, sb);
    return data;
  }

  /**
   * Layout-independent initial weights (seed 3) with small seeded noise added, so that biases and gains are
   * not trivial and every gradient path carries signal.
   */
  public static float[] perturbedWeights(dev.weft.model.ParameterLayout layout) {
    float[] w = new float[layout.total()];
    dev.weft.model.Initializer.initialize(layout, 3, w, 0, layout.total());
    SplittableRandom r = new SplittableRandom(4);
    for (int i = 0; i < w.length; i++) w[i] += (float) (0.01 * r.nextGaussian());
    return w;
  }

  /** {@code rows} sequences of T+1 seeded random token ids below {@code vocab}. */
  public static int[] randomTokens(int rows, int T, int vocab) {
    SplittableRandom r = new SplittableRandom(5);
    int[] t = new int[rows * (T + 1)];
    for (int i = 0; i < t.length; i++) t[i] = r.nextInt(vocab);
    return t;
  }

  /**
   * Parallel equals serial for a training run: as many steps, each step's loss within 1e-5 relative of
   * {@code want}'s, the final validation loss too (when both have one), and the parameters at the end
   * within 1e-4 relative norm error.
   */
  public static void assertTrainsAlike(Trainer.Result got, Trainer.Result want) {
    java.util.List<StepMetrics> a = want.steps(), b = got.steps();
    assertThat(b).hasSize(a.size());
    for (int i = 0; i < a.size(); i++) {
      double rel = Math.abs(b.get(i).loss() - a.get(i).loss()) / Math.abs(a.get(i).loss());
      assertThat(rel).as("loss of step %d: %s vs %s", i + 1, b.get(i).loss(), a.get(i).loss()).isLessThan(1e-5);
    }
    if (!Double.isNaN(want.finalValLoss()) || !Double.isNaN(got.finalValLoss())) {
      assertThat(Math.abs(got.finalValLoss() - want.finalValLoss()) / want.finalValLoss()).as("validation loss")
          .isLessThan(1e-5);
    }
    assertThat(relativeError(got.finalParams(), want.finalParams())).as("parameters after %d steps", a.size())
        .isLessThan(1e-4);
  }

  /**
   * Parallel equals serial for one forward and backward: the loss within 1e-5 relative, and every
   * parameter's gradient non-zero and within 1e-4 relative norm error (each named when it is not).
   */
  public static void assertSameGradients(dev.weft.model.ParameterLayout layout, Gradients.Result got,
                                         Gradients.Result want) {
    assertThat(Math.abs(got.loss() - (double) want.loss()) / want.loss()).as("loss").isLessThan(1e-5);
    for (dev.weft.model.ParameterLayout.Param p : layout.params()) {
      double d = 0, n = 0;
      for (int i = p.offset(); i < p.offset() + p.size(); i++) {
        d += Math.pow(got.grads()[i] - (double) want.grads()[i], 2);
        n += Math.pow(want.grads()[i], 2);
      }
      assertThat(n).as("gradient of %s is not trivially zero", p.name()).isGreaterThan(0);
      assertThat(Math.sqrt(d / n)).as(p.name()).isLessThan(1e-4);
    }
  }

  /** Relative norm error |x - ref| / |ref| of two flat parameter (or gradient) arrays. */
  public static double relativeError(float[] x, float[] ref) {
    double d = 0, n = 0;
    for (int i = 0; i < ref.length; i++) {
      d += (x[i] - (double) ref[i]) * (x[i] - (double) ref[i]);
      n += (double) ref[i] * ref[i];
    }
    return Math.sqrt(d / n);
  }
}
