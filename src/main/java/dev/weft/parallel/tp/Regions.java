package dev.weft.parallel.tp;

import dev.weft.comm.ReduceOp;

/**
 * The conjugate communication ops of tensor and sequence parallelism (Megatron-LM's mappings), each a
 * forward and its adjoint backward; every one is a no-op on a group of one. Shapes: N rows of width W;
 * under sequence parallelism rank i holds rows [i N/t, (i+1) N/t).
 * <pre>
 *   CopyToTp           forward identity                  backward all-reduce (sum)
 *   ReduceFromTp       forward all-reduce (sum)          backward identity
 *   GatherFromTp       forward all-gather along W        backward keep own columns (split)
 *   ScatterToTp        forward keep own columns          backward all-gather along W
 *   GatherFromSp       forward all-gather along rows     backward reduce-scatter along rows
 *   ReduceScatterToSp  forward reduce-scatter along rows backward all-gather along rows
 * </pre>
 */
public final class Regions {
  private Regions() {}

  /** Identity forward; all-reduce of the input gradient backward (the input was used by every rank). */
  public static final class CopyToTp {
    private CopyToTp() {}

    public static void forward() {}

    public static void backward(TensorParallel tp, float[] grad, int off, int len) {
      if (tp.size() > 1) tp.group().allReduce(grad, off, len, ReduceOp.SUM);
    }
  }

  /** All-reduce forward (sum the ranks' partial results); identity backward. */
  public static final class ReduceFromTp {
    private ReduceFromTp() {}

    public static void forward(TensorParallel tp, float[] x, int off, int len) {
      if (tp.size() > 1) tp.group().allReduce(x, off, len, ReduceOp.SUM);
    }

    public static void backward() {}
  }

  /** All-gather of [N, W/t] column blocks into [N, W] forward; keep own block backward. */
  public static final class GatherFromTp {
    private GatherFromTp() {}

    public static void forward(TensorParallel tp, float[] local, float[] full, int n, int localWidth) {
      int t = tp.size();
      if (t == 1) {
        System.arraycopy(local, 0, full, 0, n * localWidth);
        return;
      }
      float[] stacked = new float[t * n * localWidth];
      tp.group().allGather(local, 0, stacked, 0, n * localWidth);
      for (int r = 0; r < t; r++) {
        for (int i = 0; i < n; i++) {
          System.arraycopy(stacked, (r * n + i) * localWidth, full, i * t * localWidth + r * localWidth, localWidth);
        }
      }
    }

    public static void backward(TensorParallel tp, float[] dfull, float[] dlocal, int n, int localWidth) {
      ScatterToTp.forward(tp, dfull, dlocal, n, localWidth);
    }
  }

  /** Keep own [N, W/t] column block of [N, W] forward; all-gather backward. */
  public static final class ScatterToTp {
    private ScatterToTp() {}

    public static void forward(TensorParallel tp, float[] full, float[] local, int n, int localWidth) {
      int t = tp.size();
      int c0 = tp.rank() * localWidth;
      for (int i = 0; i < n; i++) System.arraycopy(full, i * t * localWidth + c0, local, i * localWidth, localWidth);
    }

    public static void backward(TensorParallel tp, float[] dlocal, float[] dfull, int n, int localWidth) {
      GatherFromTp.forward(tp, dlocal, dfull, n, localWidth);
    }
  }

  /** All-gather of row shards [N/t, W] into [N, W] forward; reduce-scatter of [N, W] into row shards backward. */
  public static final class GatherFromSp {
    private GatherFromSp() {}

    public static void forward(TensorParallel tp, float[] shard, float[] full, int shardLen) {
      if (tp.size() == 1) {
        System.arraycopy(shard, 0, full, 0, shardLen);
        return;
      }
      tp.group().allGather(shard, 0, full, 0, shardLen);
    }

    public static void backward(TensorParallel tp, float[] dfull, float[] dshard, int shardLen) {
      if (tp.size() == 1) {
        System.arraycopy(dfull, 0, dshard, 0, shardLen);
        return;
      }
      tp.group().reduceScatter(dfull, 0, dshard, 0, shardLen, ReduceOp.SUM);
    }
  }

  /** Reduce-scatter of [N, W] partial sums into row shards forward; all-gather of row shards backward. */
  public static final class ReduceScatterToSp {
    private ReduceScatterToSp() {}

    public static void forward(TensorParallel tp, float[] full, float[] shard, int shardLen) {
      GatherFromSp.backward(tp, full, shard, shardLen);
    }

    public static void backward(TensorParallel tp, float[] dshard, float[] dfull, int shardLen) {
      GatherFromSp.forward(tp, dshard, dfull, shardLen);
    }
  }
}
