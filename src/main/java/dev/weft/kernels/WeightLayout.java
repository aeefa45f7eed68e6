package dev.weft.kernels;

/**
 * How a linear layer's weight matrix is stored, which decides the GEMM that applies it.
 * <ul>
 *   <li>{@link #IN_OUT}: input-major {@code W [in, out]}, {@code Y = X W} (Hugging Face GPT-2's Conv1D).
 *       Backward: {@code dX = dY W^T}, {@code dW += X^T dY}.
 *   <li>{@link #OUT_IN}: output-major {@code W [out, in]}, {@code Y = X W^T} ({@code torch.nn.Linear},
 *       Llama). Backward: {@code dX = dY W}, {@code dW += dY^T X}. Consecutive output blocks (q, k, v; gate,
 *       up) stacked row-wise are one contiguous matrix, so separately named weights fuse into one GEMM.
 * </ul>
 */
public enum WeightLayout {
  IN_OUT,
  OUT_IN
}
