package dev.weft.kernels;

/**
 * LayerNorm over the last dimension, eps = 1e-5 (GPT-2). Shapes: inp/out [N,C], weight/bias [C],
 * mean/rstd [N] saved for backward. {@code out = (x - mean) * rstd * weight + bias},
 * {@code rstd = 1 / sqrt(var + eps)} with the biased variance.
 */
public final class LayerNorm {
  public static final float EPS = 1e-5f;

  private LayerNorm() {}

  public static void forward(Compute cx, float[] out, float[] mean, float[] rstd, float[] inp,
                             float[] weight, int wOff, float[] bias, int bOff, int N, int C) {
    throw new UnsupportedOperationException("TODO");
  }

  /** Accumulates into dinp, dweight and dbias. */
  public static void backward(Compute cx, float[] dinp, float[] dweight, int dwOff, float[] dbias, int dbOff,
                              float[] dout, float[] inp, float[] weight, int wOff, float[] mean, float[] rstd,
                              int N, int C) {
    throw new UnsupportedOperationException("TODO");
  }
}
