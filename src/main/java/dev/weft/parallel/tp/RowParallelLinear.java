package dev.weft.parallel.tp;

import dev.weft.kernels.Compute;
import dev.weft.kernels.Linear;
import dev.weft.kernels.WeightLayout;

/**
 * A linear layer split by input rows over the t ranks of a TP group: with X = [X_1 .. X_t] split by
 * columns (the output of a column-parallel layer) and W = [W_1; ..; W_t] by rows,
 * {@code Y = sum_i X_i W_i + b}. Rank i computes the partial product X_i W_i ([N, OC]); ReduceFromTp sums
 * the partials (all-reduce; backward identity), or under sequence parallelism ReduceScatterToSp leaves each
 * rank its row shard of the sum (backward all-gathers dY). The bias is replicated and added once, after the
 * sum; its gradient is the column sum of dY over the rank's rows.
 */
public final class RowParallelLinear {
  private RowParallelLinear() {}

  /**
   * @param outRows Y for this rank's rows: [N, OC], or [N/t, OC] under sequence parallelism; without sequence
   *                parallelism it may be the same array as {@code partial}
   * @param partial scratch [N, OC] for X_i W_i
   * @param x       X_i [N, ICl]
   */
  public static void forward(Compute cx, TensorParallel tp, float[] outRows, float[] partial, float[] x, float[] w,
                             int wOff, float[] b, int bOff, int n, int icl, int oc) {
    forward(cx, tp, outRows, partial, x, w, wOff, WeightLayout.IN_OUT, b, bOff, n, icl, oc);
  }

  /** As above, the weight stored as {@code layout} (W_i [ICl, OC] or [OC, ICl]). */
  public static void forward(Compute cx, TensorParallel tp, float[] outRows, float[] partial, float[] x, float[] w,
                             int wOff, WeightLayout layout, float[] b, int bOff, int n, int icl, int oc) {
    Linear.forward(cx, partial, x, w, wOff, layout, null, 0, n, icl, oc);
    int rows = tp.rows(n);
    if (tp.sp()) {
      Regions.ReduceScatterToSp.forward(tp, partial, outRows, rows * oc);
    } else {
      Regions.ReduceFromTp.forward(tp, partial, 0, n * oc);
      if (outRows != partial) System.arraycopy(partial, 0, outRows, 0, n * oc);
    }
    if (b != null) {
      cx.parallelFor(rows, 64, (from, to) -> {
        for (int i = from; i < to; i++) {
          for (int j = 0; j < oc; j++) outRows[i * oc + j] += b[bOff + j];
        }
      });
    }
  }

  /**
   * Accumulates dX_i (into dx [N, ICl]), dW_i and db.
   *
   * @param doutRows dY for this rank's rows ([N or N/t, OC])
   * @param doutFull scratch [N, OC] for the gathered dY under sequence parallelism
   */
  public static void backward(Compute cx, TensorParallel tp, float[] doutRows, float[] doutFull, float[] dx,
                              float[] dw, int dwOff, float[] db, int dbOff, float[] x, float[] w, int wOff, int n,
                              int icl, int oc) {
    backward(cx, tp, doutRows, doutFull, dx, dw, dwOff, db, dbOff, x, w, wOff, n, icl, oc, null);
  }

  /**
   * As above; with {@code dw} null the weight gradient is left for later (a zero-bubble W pass) and the full
   * dY it needs is copied into {@code keepDy} ([N, OC]).
   */
  public static void backward(Compute cx, TensorParallel tp, float[] doutRows, float[] doutFull, float[] dx,
                              float[] dw, int dwOff, float[] db, int dbOff, float[] x, float[] w, int wOff, int n,
                              int icl, int oc, float[] keepDy) {
    backward(cx, tp, doutRows, doutFull, dx, dw, dwOff, db, dbOff, x, w, wOff, WeightLayout.IN_OUT, n, icl, oc, keepDy);
  }

  /** As above, the weight stored as {@code layout}. */
  public static void backward(Compute cx, TensorParallel tp, float[] doutRows, float[] doutFull, float[] dx,
                              float[] dw, int dwOff, float[] db, int dbOff, float[] x, float[] w, int wOff,
                              WeightLayout layout, int n, int icl, int oc, float[] keepDy) {
    int rows = tp.rows(n);
    if (db != null) {
      cx.parallelFor(oc, 64, (from, to) -> {
        for (int i = 0; i < rows; i++) {
          for (int j = from; j < to; j++) db[dbOff + j] += doutRows[i * oc + j];
        }
      });
    }
    float[] dy = doutRows;
    if (tp.sp()) {
      Regions.ReduceScatterToSp.backward(tp, doutRows, doutFull, rows * oc);
      dy = doutFull;
    }
    if (dw != null) {
      Linear.backward(cx, dx, dw, dwOff, null, 0, dy, x, w, wOff, layout, n, icl, oc);
    } else {
      Linear.backwardInput(cx, dx, dy, w, wOff, layout, n, icl, oc);
      System.arraycopy(dy, 0, keepDy, 0, n * oc);
    }
  }
}
