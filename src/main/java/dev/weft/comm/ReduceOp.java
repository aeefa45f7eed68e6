package dev.weft.comm;

/** How an all-reduce or reduce-scatter combines the ranks' values, element by element. */
public enum ReduceOp {
  /** x_0 + x_1 + ... + x_{n-1}. */
  SUM,
  /** (x_0 + ... + x_{n-1}) / n: the sum, then one division by the group size. */
  AVG,
  /** max(x_0, ..., x_{n-1}). */
  MAX;

  /** acc[i] = combine(acc[i], x[xOff + i]) for i in [0, len). AVG combines as SUM. */
  public void combine(float[] acc, int accOff, float[] x, int xOff, int len) {
    if (this == MAX) {
      for (int i = 0; i < len; i++) acc[accOff + i] = Math.max(acc[accOff + i], x[xOff + i]);
    } else {
      for (int i = 0; i < len; i++) acc[accOff + i] += x[xOff + i];
    }
  }

  /** Applies the final step after all values are combined: AVG divides by the group size. */
  public void finish(float[] acc, int off, int len, int groupSize) {
    if (this != AVG) return;
    float n = groupSize;
    for (int i = 0; i < len; i++) acc[off + i] /= n;
  }
}
