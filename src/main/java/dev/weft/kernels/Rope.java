package dev.weft.kernels;

/**
 * Rotary position embeddings in Hugging Face's rotate-half form (Llama): for a head vector x of width D at
 * position p and i in [0, D/2), with {@code a_i = p theta^(-2i/D)}:
 * <pre>
 *   y_i       = x_i cos a_i - x_{i+D/2} sin a_i
 *   y_{i+D/2} = x_{i+D/2} cos a_i + x_i sin a_i
 * </pre>
 * applied to every query and key head of every row. The rotation is orthogonal, so backward applies the
 * inverse rotation (angle -a) to the gradient. The table holds cos and sin of every (position, i), computed in
 * double and rounded once to float: the same values on every rank and run.
 */
public final class Rope {
  private final int dim;
  private final int half;
  private final float[] cos;
  private final float[] sin;

  /** Tables for positions [0, maxPositions) of heads {@code dim} wide (even) with base {@code theta}. */
  public Rope(int dim, int maxPositions, double theta) {
    if (dim % 2 != 0) throw new IllegalArgumentException("rotary embeddings need an even head width, got " + dim);
    this.dim = dim;
    this.half = dim / 2;
    this.cos = new float[maxPositions * half];
    this.sin = new float[maxPositions * half];
    for (int p = 0; p < maxPositions; p++) {
      for (int i = 0; i < half; i++) {
        double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / dim);
        double a = p * invFreq;
        cos[p * half + i] = (float) Math.cos(a);
        sin[p * half + i] = (float) Math.sin(a);
      }
    }
  }

  public int dim() {
    return dim;
  }

  /**
   * Rotates, in place, {@code heads} consecutive heads starting at column {@code col} of each of the
   * {@code rows} rows of {@code x} (row stride {@code stride}); row r is at position {@code pos(r)}:
   * {@code positions[r % T]} when positions is given, else {@code r % T}. {@code inverse} rotates by -a.
   */
  public void apply(Compute cx, float[] x, int rows, int stride, int col, int heads, int T, int[] positions,
                    boolean inverse) {
    float sign = inverse ? -1f : 1f;
    cx.parallelFor(rows, Math.max(1, 2048 / Math.max(1, heads * dim)), (from, to) -> {
      for (int r = from; r < to; r++) {
        int t = r % T;
        int p = positions == null ? t : positions[t];
        int tab = p * half;
        for (int h = 0; h < heads; h++) {
          int o = r * stride + col + h * dim;
          for (int i = 0; i < half; i++) {
            float c = cos[tab + i], s = sign * sin[tab + i];
            float a = x[o + i], b = x[o + half + i];
            x[o + i] = a * c - b * s;
            x[o + half + i] = b * c + a * s;
          }
        }
      }
    });
  }
}
