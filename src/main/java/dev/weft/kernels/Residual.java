package dev.weft.kernels;

/**
 * Residual add, elementwise over n values: {@code out = a + b}; backward {@code da += dout, db += dout}.
 * Parallel over contiguous index ranges, vectorised; elementwise, so deterministic for any thread count.
 * {@code out} may alias {@code a} or {@code b}; {@code da} may alias {@code db} (then it receives 2 dout).
 */
public final class Residual {
  private static final int GRAIN = 1 << 14;

  private Residual() {}

  public static void forward(Compute cx, float[] out, float[] a, float[] b, int n) {
    cx.parallelFor(n, GRAIN, (from, to) -> Vec.add(out, from, a, from, b, from, to - from));
  }

  public static void backward(Compute cx, float[] da, float[] db, float[] dout, int n) {
    cx.parallelFor(n, GRAIN, (from, to) -> {
      Vec.addInto(da, from, dout, from, to - from);
      Vec.addInto(db, from, dout, from, to - from);
    });
  }
}
