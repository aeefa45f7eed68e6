package dev.weft.train;

/**
 * Global-norm gradient clipping: {@code norm = sqrt(sum g^2)} over every gradient (summed in double,
 * in a fixed order); if {@code maxNorm > 0} and {@code norm > maxNorm}, every gradient is scaled by
 * {@code maxNorm / (norm + 1e-6)}. Returns the norm before clipping.
 */
public final class GradClip {
  private GradClip() {}

  public static double clip(float[] grads, double maxNorm) {
    double norm = Math.sqrt(sumOfSquares(grads, 0, grads.length));
    scaleIfNeeded(grads, 0, grads.length, norm, maxNorm);
    return norm;
  }

  public static double sumOfSquares(float[] g, int off, int len) {
    double s = 0;
    for (int i = off; i < off + len; i++) s += (double) g[i] * g[i];
    return s;
  }

  public static void scaleIfNeeded(float[] g, int off, int len, double norm, double maxNorm) {
    if (maxNorm > 0 && norm > maxNorm) {
      float f = (float) (maxNorm / (norm + 1e-6));
      for (int i = off; i < off + len; i++) g[i] *= f;
    }
  }
}
