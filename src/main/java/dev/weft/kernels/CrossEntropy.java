package dev.weft.kernels;

/**
 * Softmax cross-entropy over logits. Shapes: logits [N,Vp] (rows of stride Vp >= V; columns V..Vp-1 are
 * padding and ignored), targets [N] in [0,V), losses [N]. {@code losses[i] = logsumexp(logits[i,:V]) -
 * logits[i, targets[i]]}, computed stably (max subtracted).
 */
public final class CrossEntropy {
  private CrossEntropy() {}

  public static void forward(Compute cx, float[] losses, float[] logits, int[] targets, int N, int V, int Vp) {
    throw new UnsupportedOperationException("TODO");
  }

  /**
   * Forward, then overwrites logits in place with the gradient of {@code scale * sum_i losses[i]}:
   * {@code (softmax(logits[i]) - onehot(targets[i])) * scale}, padding columns set to 0. Saves holding
   * probabilities and gradients of the (large) logits separately.
   */
  public static void forwardBackward(Compute cx, float[] losses, float[] logits, int[] targets,
                                     int N, int V, int Vp, float scale) {
    throw new UnsupportedOperationException("TODO");
  }
}
