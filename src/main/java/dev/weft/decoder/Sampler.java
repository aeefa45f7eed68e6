package dev.weft.decoder;

import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Autoregressive generation: runs the model over the last {@code context} tokens (padded to the full
 * context; attention is causal, so the padding never affects the positions before it), takes the logits at
 * the last real position, and samples with temperature and optional top-k (temperature 0 = greedy).
 */
public final class Sampler {
  private final Decoder model;
  private final double temperature;
  private final int topK;
  private final SplittableRandom rng;

  public Sampler(Decoder model, double temperature, int topK, long seed) {
    this.model = model;
    this.temperature = temperature;
    this.topK = topK;
    this.rng = new SplittableRandom(seed);
  }

  /** Generates {@code count} tokens after {@code prompt}, handing each to {@code sink} as it comes. */
  public void generate(int[] prompt, int count, IntConsumer sink) {
    dev.weft.model.ModelSpec c = model.spec();
    int T = c.context();
    int V = c.vocab();
    int[] history = new int[prompt.length + count];
    System.arraycopy(prompt, 0, history, 0, prompt.length);
    int len = prompt.length;
    try (Activations act = model.newActivations(1, T)) {
      int[] window = new int[T + 1];
      for (int g = 0; g < count; g++) {
        int start = Math.max(0, len - T);
        int n = len - start;
        java.util.Arrays.fill(window, 0);
        System.arraycopy(history, start, window, 0, n);
        model.forward(act, window, 0, Float.NaN);
        int next = pick(act.logits, (n - 1) * V, V);
        history[len++] = next;
        sink.accept(next);
      }
    }
  }

  private int pick(float[] logits, int off, int V) {
    if (temperature == 0) {
      int best = 0;
      for (int i = 1; i < V; i++) if (logits[off + i] > logits[off + best]) best = i;
      return best;
    }
    double[] p = new double[V];
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < V; i++) max = Math.max(max, logits[off + i]);
    double cutoff = Double.NEGATIVE_INFINITY;
    if (topK > 0 && topK < V) {
      float[] sorted = java.util.Arrays.copyOfRange(logits, off, off + V);
      java.util.Arrays.sort(sorted);
      cutoff = sorted[V - topK];
    }
    double sum = 0;
    for (int i = 0; i < V; i++) {
      double l = logits[off + i];
      p[i] = l < cutoff ? 0 : Math.exp((l - max) / temperature);
      sum += p[i];
    }
    double r = rng.nextDouble() * sum;
    for (int i = 0; i < V; i++) {
      r -= p[i];
      if (r <= 0 && p[i] > 0) return i;
    }
    return V - 1;
  }
}
