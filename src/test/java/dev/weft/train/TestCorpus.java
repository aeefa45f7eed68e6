package dev.weft.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Small seeded corpora for tests that train: enough text for 20 steps of batches, learnable but not trivial. */
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
    dev.weft.model.GPT2.initialize(layout, 3, w, 0, layout.total());
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
