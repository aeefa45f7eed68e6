package dev.weft.kernels;

/**
 * A linear layer with the weight stored input-major, as in Hugging Face's GPT-2 (Conv1D):
 * inp [N,IC], weight [IC,OC], bias [OC] (or null), out [N,OC]: {@code out = inp W + b}.
 * Backward: {@code dinp += dout W^T}, {@code dW += inp^T dout}, {@code db += sum_rows dout}.
 */
public final class Linear {
  private Linear() {}

  public static void forward(Compute cx, float[] out, float[] inp, float[] w, int wOff, float[] bias, int bOff,
                             int N, int IC, int OC) {
    cx.gemm(false, false, N, OC, IC, inp, 0, IC, w, wOff, OC, 0f, out, 0, OC);
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
    if (dinp != null) {
      backwardInput(cx, dinp, dout, w, wOff, N, IC, OC);
    }
    backwardWeight(cx, dw, dwOff, dbias, dbOff, dout, inp, N, IC, OC);
  }

  /** dinp += dout W^T. */
  public static void backwardInput(Compute cx, float[] dinp, float[] dout, float[] w, int wOff, int N, int IC, int OC) {
    cx.gemm(false, true, N, IC, OC, dout, 0, OC, w, wOff, OC, 1f, dinp, 0, IC);
  }

  /** dW += inp^T dout; db += column sums of dout. */
  public static void backwardWeight(Compute cx, float[] dw, int dwOff, float[] dbias, int dbOff,
                                    float[] dout, float[] inp, int N, int IC, int OC) {
    cx.gemm(true, false, IC, OC, N, inp, 0, IC, dout, 0, OC, 1f, dw, dwOff, OC);
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
