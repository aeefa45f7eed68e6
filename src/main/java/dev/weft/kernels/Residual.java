package dev.weft.kernels;

/** Residual add, elementwise over n values: {@code out = a + b}; backward {@code da += dout, db += dout}. */
public final class Residual {
  private Residual() {}

  public static void forward(Compute cx, float[] out, float[] a, float[] b, int n) {
    throw new UnsupportedOperationException("TODO");
  }

  public static void backward(Compute cx, float[] da, float[] db, float[] dout, int n) {
    throw new UnsupportedOperationException("TODO");
  }
}
