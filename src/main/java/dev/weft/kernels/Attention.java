package dev.weft.kernels;

/**
 * Causal multi-head self-attention with softmax, as in GPT-2. Shapes: qkv [B,T,3C] holding q, k, v side by
 * side (each C = NH * hs wide, head h in columns h*hs .. (h+1)*hs of each), att [B,NH,T,T] the softmax
 * probabilities saved for backward (entries above the diagonal are 0), out [B,T,C] with heads
 * concatenated. {@code att = softmax(mask(q k^T / sqrt(hs)))}, {@code out = att v}.
 */
public final class Attention {
  private Attention() {}

  public static void forward(Compute cx, float[] out, float[] att, float[] qkv, int B, int T, int C, int NH) {
    throw new UnsupportedOperationException("TODO");
  }

  /** Accumulates into dqkv [B,T,3C]. */
  public static void backward(Compute cx, float[] dqkv, float[] dout, float[] qkv, float[] att,
                              int B, int T, int C, int NH) {
    throw new UnsupportedOperationException("TODO");
  }
}
