package dev.weft.parallel.cp;

import dev.weft.kernels.Compute;
import dev.weft.kernels.Heads;

/**
 * The attention a context-parallel rank calls in place of the local kernel: {@link RingAttention} or
 * {@link UlyssesAttention} (get the right one from {@link ContextParallel#attention()}). Shapes are the
 * local kernel's with T replaced by this rank's Tl = T / cp rows, in the order of {@link CpLayout}:
 * qkv [B,Tl,3C] (q|k|v, each C = NH x hs wide), out [B,Tl,C], dout [B,Tl,C], dqkv [B,Tl,3C]
 * (accumulated into), and lse, B x NH x Tl floats saved by forward for backward (its layout belongs to
 * the implementation). {@code positions} are this rank's absolute positions, {@link ContextParallel#positions}.
 * Every rank of the group must make the same calls in the same order (they communicate).
 */
public interface CpAttention {
  /** out := causal attention of this rank's queries over the whole sequence; lse saved for backward. */
  void forward(Compute cx, ContextParallel cp, float[] out, float[] lse, float[] qkv, int B, int Tl, Heads h,
               int[] positions);

  /** Multi-head form: q|k|v each C = NH x hs wide. */
  default void forward(Compute cx, ContextParallel cp, float[] out, float[] lse, float[] qkv, int B, int Tl, int C,
                       int NH, int[] positions) {
    forward(cx, cp, out, lse, qkv, B, Tl, Heads.mha(C, NH), positions);
  }

  /** dqkv += the gradient for this rank's rows, given dout and the forward's qkv, out and lse. */
  void backward(Compute cx, ContextParallel cp, float[] dqkv, float[] dout, float[] qkv, float[] out, float[] lse,
                int B, int Tl, Heads h, int[] positions);

  /** Multi-head form of the above. */
  default void backward(Compute cx, ContextParallel cp, float[] dqkv, float[] dout, float[] qkv, float[] out,
                        float[] lse, int B, int Tl, int C, int NH, int[] positions) {
    backward(cx, cp, dqkv, dout, qkv, out, lse, B, Tl, Heads.mha(C, NH), positions);
  }
}
