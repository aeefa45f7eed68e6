package dev.weft.parallel.tp;

import dev.weft.comm.ReduceOp;
import dev.weft.kernels.Compute;
import dev.weft.kernels.CrossEntropy;

/**
 * The vocabulary-parallel embedding and cross-entropy: rank i holds rows [start, start + Vl) of the (tied)
 * token embedding wte, with the vocabulary padded to a multiple of t (padding rows never match a token and
 * are masked out of the softmax).
 * <ul>
 *   <li>Embedding: {@code out[n] = wte[tok_n - start]} if the token is in range, else 0; the partial rows are
 *       summed over the group by the caller (ReduceFromTp, or ReduceScatterToSp under sequence parallelism).
 *   <li>Cross-entropy over logits split by vocabulary ([N, Vl] per rank), never gathering the full logits:
 *       {@code m = max_all(max_local)}, {@code s = sum_all(sum_local exp(x - m))},
 *       {@code x_t = sum_all(x_target if owned else 0)}, {@code loss = log s + m - x_t}; the gradient of
 *       {@code scale * sum loss} is {@code scale (exp(x - m) / s - onehot)} on the rank's columns. Three
 *       all-reduces of N floats.
 * </ul>
 */
public final class VocabParallel {
  private VocabParallel() {}

  public static void embed(float[] out, int[] tokens, float[] wte, int wOff, int start, int localVocab, int n, int c) {
    for (int i = 0; i < n; i++) {
      int row = tokens[i] - start;
      if (row >= 0 && row < localVocab) {
        System.arraycopy(wte, wOff + row * c, out, i * c, c);
      } else {
        java.util.Arrays.fill(out, i * c, (i + 1) * c, 0f);
      }
    }
  }

  /** dwte[tok - start] += dout[n] for the tokens in range, in row order. */
  public static void embedBackward(float[] dwte, int dwOff, float[] dout, int[] tokens, int start, int localVocab,
                                   int n, int c) {
    for (int i = 0; i < n; i++) {
      int row = tokens[i] - start;
      if (row < 0 || row >= localVocab) continue;
      int d = dwOff + row * c;
      int s = i * c;
      for (int j = 0; j < c; j++) dwte[d + j] += dout[s + j];
    }
  }

  /**
   * Losses of N rows over the full vocabulary V from this rank's logits [N, Vl] (columns start..start+Vl);
   * if {@code scale} is not NaN, overwrites the logits with the gradient of {@code scale * sum(losses)}.
   */
  public static void crossEntropy(Compute cx, TensorParallel tp, float[] losses, float[] logits, int[] targets,
                                  int n, int vocab, int localVocab, int start, float scale) {
    if (tp.size() == 1) {
      if (Float.isNaN(scale)) {
        CrossEntropy.forward(cx, losses, logits, targets, n, vocab, localVocab);
      } else {
        CrossEntropy.forwardBackward(cx, losses, logits, targets, n, vocab, localVocab, scale);
      }
      return;
    }
    int valid = Math.max(0, Math.min(localVocab, vocab - start));
    float[] max = new float[n];
    float[] sum = new float[n];
    float[] target = new float[n];
    cx.parallelFor(n, 16, (from, to) -> {
      for (int i = from; i < to; i++) {
        int o = i * localVocab;
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < valid; j++) m = Math.max(m, logits[o + j]);
        max[i] = m;
      }
    });
    tp.group().allReduce(max, 0, n, ReduceOp.MAX);
    cx.parallelFor(n, 16, (from, to) -> {
      for (int i = from; i < to; i++) {
        int o = i * localVocab;
        float s = 0f;
        for (int j = 0; j < valid; j++) s += expf(logits[o + j] - max[i]);
        sum[i] = s;
        int tg = targets[i] - start;
        target[i] = tg >= 0 && tg < valid ? logits[o + tg] : 0f;
      }
    });
    tp.group().allReduce(sum, 0, n, ReduceOp.SUM);
    tp.group().allReduce(target, 0, n, ReduceOp.SUM);
    for (int i = 0; i < n; i++) losses[i] = (float) (Math.log(sum[i]) + max[i] - target[i]);
    if (Float.isNaN(scale)) return;
    cx.parallelFor(n, 16, (from, to) -> {
      for (int i = from; i < to; i++) {
        int o = i * localVocab;
        float f = scale / sum[i];
        for (int j = 0; j < valid; j++) logits[o + j] = expf(logits[o + j] - max[i]) * f;
        for (int j = valid; j < localVocab; j++) logits[o + j] = 0f;
        int tg = targets[i] - start;
        if (tg >= 0 && tg < valid) logits[o + tg] -= scale;
      }
    });
  }

  private static float expf(float x) {
    return (float) StrictMath.exp(x);
  }
}
