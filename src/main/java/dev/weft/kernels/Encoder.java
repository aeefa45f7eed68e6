package dev.weft.kernels;

/**
 * Token plus position embedding. Shapes: tokens [B*T], wte [V,C], wpe [Tmax,C], out [B,T,C].
 * {@code out[b,t,:] = wte[tokens[b*T+t],:] + wpe[posOffset+t,:]}.
 *
 * <p>Convention for all kernels here: activations are whole arrays (offset 0); parameters and their
 * gradients live in flat buffers and are passed as (array, offset); every backward ACCUMULATES (+=) into
 * its gradient outputs.
 *
 * <p>Serial (the signature carries no {@link Compute}); it is a tiny share of a step. The backward
 * scatters rows in (b, t) order, so repeated tokens accumulate deterministically.
 */
public final class Encoder {
  private Encoder() {}

  public static void forward(float[] out, int[] tokens, float[] wte, int wteOff, float[] wpe, int wpeOff,
                             int B, int T, int C, int posOffset) {
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        int bt = b * T + t;
        int tok = tokens[bt];
        Vec.add(out, bt * C, wte, wteOff + tok * C, wpe, wpeOff + (posOffset + t) * C, C);
      }
    }
  }

  /** dwte[tokens[b*T+t],:] += dout[b,t,:]; dwpe[posOffset+t,:] += dout[b,t,:]. */
  public static void backward(float[] dwte, int dwteOff, float[] dwpe, int dwpeOff, float[] dout, int[] tokens,
                              int B, int T, int C, int posOffset) {
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        int bt = b * T + t;
        int tok = tokens[bt];
        Vec.addInto(dwte, dwteOff + tok * C, dout, bt * C, C);
        Vec.addInto(dwpe, dwpeOff + (posOffset + t) * C, dout, bt * C, C);
      }
    }
  }
}
