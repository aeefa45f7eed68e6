package dev.weft.kernels;

/**
 * Token plus position embedding. Shapes: tokens [B*T], wte [V,C], wpe [Tmax,C], out [B,T,C].
 * {@code out[b,t,:] = wte[tokens[b*T+t],:] + wpe[posOffset+t,:]}.
 *
 * <p>Convention for all kernels here: activations are whole arrays (offset 0); parameters and their
 * gradients live in flat buffers and are passed as (array, offset); every backward ACCUMULATES (+=) into
 * its gradient outputs.
 */
public final class Encoder {
  private Encoder() {}

  public static void forward(float[] out, int[] tokens, float[] wte, int wteOff, float[] wpe, int wpeOff,
                             int B, int T, int C, int posOffset) {
    throw new UnsupportedOperationException("TODO");
  }

  /** dwte[tokens[b*T+t],:] += dout[b,t,:]; dwpe[posOffset+t,:] += dout[b,t,:]. */
  public static void backward(float[] dwte, int dwteOff, float[] dwpe, int dwpeOff, float[] dout, int[] tokens,
                              int B, int T, int C, int posOffset) {
    throw new UnsupportedOperationException("TODO");
  }
}
