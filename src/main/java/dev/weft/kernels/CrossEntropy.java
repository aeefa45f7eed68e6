package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;

/**
 * Softmax cross-entropy over logits. Shapes: logits [N,Vp] (rows of stride Vp >= V; columns V..Vp-1 are
 * padding and ignored), targets [N] in [0,V), losses [N]. {@code losses[i] = logsumexp(logits[i,:V]) -
 * logits[i, targets[i]]}, computed stably (max subtracted).
 *
 * <p>Parallel over rows, vectorised (exp via the Vector API), float arithmetic with lane-wise partial sums
 * in a fixed order: deterministic for any thread count.
 */
public final class CrossEntropy {
  private CrossEntropy() {}

  public static void forward(Compute cx, float[] losses, float[] logits, int[] targets, int N, int V, int Vp) {
    cx.parallelFor(N, 1, (from, to) -> {
      for (int r = from; r < to; r++) {
        int o = r * Vp;
        float mx = Vec.max(logits, o, V);
        float sum = Vec.sumExpShift(logits, o, V, mx);
        losses[r] = (float) (Math.log(sum) + mx - logits[o + target(targets, r, V)]);
      }
    });
  }

  /**
   * Forward, then overwrites logits in place with the gradient of {@code scale * sum_i losses[i]}:
   * {@code (softmax(logits[i]) - onehot(targets[i])) * scale}, padding columns set to 0. Saves holding
   * probabilities and gradients of the (large) logits separately.
   */
  public static void forwardBackward(Compute cx, float[] losses, float[] logits, int[] targets,
                                     int N, int V, int Vp, float scale) {
    cx.parallelFor(N, 1, (from, to) -> {
      for (int r = from; r < to; r++) {
        int o = r * Vp;
        int tgt = target(targets, r, V);
        float mx = Vec.max(logits, o, V);
        float xt = logits[o + tgt];
        float sum = Vec.expShiftInPlace(logits, o, V, mx);
        losses[r] = (float) (Math.log(sum) + mx - xt);
        float f = scale / sum;
        int j = 0;
        int ub = Vec.bound(V);
        for (; j < ub; j += Vec.L) FloatVector.fromArray(Vec.S, logits, o + j).mul(f).intoArray(logits, o + j);
        for (; j < V; j++) logits[o + j] *= f;
        logits[o + tgt] -= scale;
        Vec.zero(logits, o + V, Vp - V);
      }
    });
  }

  private static int target(int[] targets, int r, int V) {
    int t = targets[r];
    if (t < 0 || t >= V) throw new IllegalArgumentException("target " + t + " of row " + r + " not in [0," + V + ")");
    return t;
  }
}
