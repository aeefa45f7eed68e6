package dev.weft.kernels;

/**
 * GELU in GPT-2's tanh approximation, elementwise over n values:
 * {@code gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))}.
 */
public final class Gelu {
  private Gelu() {}

  public static void forward(Compute cx, float[] out, float[] inp, int n) {
    throw new UnsupportedOperationException("TODO");
  }

  /** Accumulates dinp += gelu'(inp) * dout. */
  public static void backward(Compute cx, float[] dinp, float[] inp, float[] dout, int n) {
    throw new UnsupportedOperationException("TODO");
  }
}
