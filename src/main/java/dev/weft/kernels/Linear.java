package dev.weft.kernels;

/**
 * A linear layer {@code out = inp op(W) + b}: inp [N,IC], out [N,OC], bias [OC] (or null), and the weight
 * stored as {@link WeightLayout#IN_OUT} [IC,OC] ({@code op(W) = W}, Hugging Face GPT-2's Conv1D) or
 * {@link WeightLayout#OUT_IN} [OC,IC] ({@code op(W) = W^T}, torch.nn.Linear). Backward accumulates:
 * {@code dinp += dout op(W)^T}, {@code dW += inp^T dout} (IN_OUT) or {@code dout^T inp} (OUT_IN),
 * {@code db += sum_rows dout}. The methods without a {@link WeightLayout} take IN_OUT weights.
 */
public final class Linear {
  private Linear() {}

  public static void forward(Compute cx, float[] out, float[] inp, float[] w, int wOff, float[] bias, int bOff,
                             int N, int IC, int OC) {
    forward(cx, out, inp, w, wOff, WeightLayout.IN_OUT, bias, bOff, N, IC, OC);
  }

  public static void forward(Compute cx, float[] out, float[] inp, float[] w, int wOff, WeightLayout layout,
                             float[] bias, int bOff, int N, int IC, int OC) {
    if (layout == WeightLayout.IN_OUT) {
      cx.gemm(false, false, N, OC, IC, inp, 0, IC, w, wOff, OC, 0f, out, 0, OC);
    } else {
      cx.gemm(false, true, N, OC, IC, inp, 0, IC, w, wOff, IC, 0f, out, 0, OC);
    }
    if (bias != null) {
      cx.parallelFor(N, 64, (from, to) -> {
        for (int i = from; i < to; i++) {
          int o = i * OC;
          for (int j = 0; j < OC; j++) out[o + j] += bias[bOff + j];
        }
      });
    }
  }

  /** dinp may be null (no input gradient wanted); dbias may be null (no bias). Accumulates. */
  public static void backward(Compute cx, float[] dinp, float[] dw, int dwOff, float[] dbias, int dbOff,
                              float[] dout, float[] inp, float[] w, int wOff, int N, int IC, int OC) {
    backward(cx, dinp, dw, dwOff, dbias, dbOff, dout, inp, w, wOff, WeightLayout.IN_OUT, N, IC, OC);
  }

  /** As above for weights stored as {@code layout}. */
  public static void backward(Compute cx, float[] dinp, float[] dw, int dwOff, float[] dbias, int dbOff,
                              float[] dout, float[] inp, float[] w, int wOff, WeightLayout layout, int N, int IC,
                              int OC) {
    if (dinp != null) {
      backwardInput(cx, dinp, dout, w, wOff, layout, N, IC, OC);
    }
    backwardWeight(cx, dw, dwOff, layout, dbias, dbOff, dout, inp, N, IC, OC);
  }

  /** dinp += dout W^T. */
  public static void backwardInput(Compute cx, float[] dinp, float[] dout, float[] w, int wOff, int N, int IC, int OC) {
    backwardInput(cx, dinp, dout, w, wOff, WeightLayout.IN_OUT, N, IC, OC);
  }

  /** dinp += dout op(W)^T. */
  public static void backwardInput(Compute cx, float[] dinp, float[] dout, float[] w, int wOff, WeightLayout layout,
                                   int N, int IC, int OC) {
    if (layout == WeightLayout.IN_OUT) {
      cx.gemm(false, true, N, IC, OC, dout, 0, OC, w, wOff, OC, 1f, dinp, 0, IC);
    } else {
      cx.gemm(false, false, N, IC, OC, dout, 0, OC, w, wOff, IC, 1f, dinp, 0, IC);
    }
  }

  /** dW += inp^T dout; db += column sums of dout. */
  public static void backwardWeight(Compute cx, float[] dw, int dwOff, float[] dbias, int dbOff,
                                    float[] dout, float[] inp, int N, int IC, int OC) {
    backwardWeight(cx, dw, dwOff, WeightLayout.IN_OUT, dbias, dbOff, dout, inp, N, IC, OC);
  }

  /** dW += inp^T dout (IN_OUT) or dout^T inp (OUT_IN); db += column sums of dout. */
  public static void backwardWeight(Compute cx, float[] dw, int dwOff, WeightLayout layout, float[] dbias, int dbOff,
                                    float[] dout, float[] inp, int N, int IC, int OC) {
    if (layout == WeightLayout.IN_OUT) {
      cx.gemm(true, false, IC, OC, N, inp, 0, IC, dout, 0, OC, 1f, dw, dwOff, OC);
    } else {
      cx.gemm(true, false, OC, IC, N, dout, 0, OC, inp, 0, IC, 1f, dw, dwOff, IC);
    }
    backwardBias(cx, dbias, dbOff, dout, N, OC);
  }

  /** db += column sums of dout (nothing when dbias is null). */
  public static void backwardBias(Compute cx, float[] dbias, int dbOff, float[] dout, int N, int OC) {
    if (dbias != null) {
      cx.parallelFor(OC, 64, (from, to) -> {
        for (int i = 0; i < N; i++) {
          int o = i * OC;
          for (int j = from; j < to; j++) dbias[dbOff + j] += dout[o + j];
        }
      });
    }
  }
}
