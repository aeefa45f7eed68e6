package dev.weft.parallel.tp;

import dev.weft.kernels.Compute;
import dev.weft.kernels.Linear;
import dev.weft.kernels.WeightLayout;

/**
 * A linear layer split by output columns over the t ranks of a TP group:
 * {@code Y = X [W_1 .. W_t] + [b_1 .. b_t]}, rank i computing {@code Y_i = X W_i + b_i} ([N, OC/t]) from the
 * full input X ([N, IC]); W is stored [IC, OC] or [OC, IC] ({@link WeightLayout}: W_i is then rows). Its output stays split (the next layer is row-parallel, or attention runs on
 * the rank's heads). The input enters by CopyToTp (every rank reads the same X; backward all-reduces
 * dX = sum_i dY_i W_i^T), or under sequence parallelism by GatherFromSp (X assembled from the ranks' row
 * shards; backward reduce-scatters dX back to shards). Initialised as a slice of the full weight, so
 * t = 1 and t = n start identical.
 */
public final class ColumnParallelLinear {
  private ColumnParallelLinear() {}

  /**
   * @param in       this rank's rows of X: [N, IC], or [N/t, IC] under sequence parallelism
   * @param gathered scratch [N, IC] that receives X under sequence parallelism
   * @param out      Y_i [N, OCl]
   * @return the full X that was multiplied (keep it, or re-gather it, for backward)
   */
  public static float[] forward(Compute cx, TensorParallel tp, float[] out, float[] in, float[] gathered,
                                float[] w, int wOff, float[] b, int bOff, int n, int ic, int ocl) {
    return forward(cx, tp, out, in, gathered, w, wOff, WeightLayout.IN_OUT, b, bOff, n, ic, ocl);
  }

  /** As above, the weight stored as {@code layout} (W_i [IC, OCl] or [OCl, IC]). */
  public static float[] forward(Compute cx, TensorParallel tp, float[] out, float[] in, float[] gathered,
                                float[] w, int wOff, WeightLayout layout, float[] b, int bOff, int n, int ic,
                                int ocl) {
    float[] x = in;
    if (tp.sp()) {
      Regions.GatherFromSp.forward(tp, in, gathered, tp.rows(n) * ic);
      x = gathered;
    }
    Linear.forward(cx, out, x, w, wOff, layout, b, bOff, n, ic, ocl);
    return x;
  }

  /**
   * Accumulates dW_i, db_i; writes this rank's rows of dX into {@code dinRows} ([N or N/t, IC]).
   *
   * @param dinFull scratch [N, IC] (may be the same array as dinRows when sequence parallelism is off)
   * @param dw      null to leave the weight gradient for later (a zero-bubble W pass); xFull may then be null
   * @param xFull   the full X of forward
   */
  public static void backward(Compute cx, TensorParallel tp, float[] dinFull, float[] dinRows, float[] dw, int dwOff,
                              float[] db, int dbOff, float[] dout, float[] xFull, float[] w, int wOff, int n, int ic,
                              int ocl) {
    backward(cx, tp, dinFull, dinRows, dw, dwOff, db, dbOff, dout, xFull, w, wOff, WeightLayout.IN_OUT, n, ic, ocl);
  }

  /** As above, the weight stored as {@code layout}. */
  public static void backward(Compute cx, TensorParallel tp, float[] dinFull, float[] dinRows, float[] dw, int dwOff,
                              float[] db, int dbOff, float[] dout, float[] xFull, float[] w, int wOff,
                              WeightLayout layout, int n, int ic, int ocl) {
    java.util.Arrays.fill(dinFull, 0, n * ic, 0f);
    if (dw != null) {
      Linear.backward(cx, dinFull, dw, dwOff, db, dbOff, dout, xFull, w, wOff, layout, n, ic, ocl);
    } else {
      Linear.backwardInput(cx, dinFull, dout, w, wOff, layout, n, ic, ocl);
      Linear.backwardBias(cx, db, dbOff, dout, n, ocl);
    }
    if (tp.sp()) {
      Regions.GatherFromSp.backward(tp, dinFull, dinRows, tp.rows(n) * ic);
    } else {
      Regions.CopyToTp.backward(tp, dinFull, 0, n * ic);
      if (dinRows != dinFull) System.arraycopy(dinFull, 0, dinRows, 0, n * ic);
    }
  }
}
