package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;

/**
 * RMSNorm over the last dimension (Llama): {@code out = x * rstd * weight}, {@code rstd = 1 / sqrt(mean(x^2)
 * + eps)}, statistics in fp32. Shapes: inp/out [N,C], weight [C], rstd [N] saved for backward.
 *
 * <p>Backward, per row with {@code xhat = x rstd} and {@code g = dout * weight}:
 * {@code dinp += rstd (g - xhat mean(g xhat))}, {@code dweight += sum_rows dout xhat}.
 *
 * <p>Parallel over rows, vectorised. dweight is summed per fixed block of rows into partials added in block
 * order; the blocks depend only on N, so results are bit-identical for any thread count.
 */
public final class RmsNorm {
  private static final int MAX_BLOCKS = 16;

  private RmsNorm() {}

  public static void forward(Compute cx, float[] out, float[] rstd, float[] inp, float[] weight, int wOff, int N, int C,
                             float eps) {
    int grain = Math.max(1, 8192 / Math.max(1, C));
    cx.parallelFor(N, grain, (from, to) -> {
      int ub = Vec.bound(C);
      for (int r = from; r < to; r++) {
        int o = r * C;
        FloatVector acc = FloatVector.zero(Vec.S);
        int i = 0;
        for (; i < ub; i += Vec.L) {
          FloatVector x = FloatVector.fromArray(Vec.S, inp, o + i);
          acc = x.fma(x, acc);
        }
        float ss = Vec.sumLanes(acc);
        for (; i < C; i++) ss = Math.fma(inp[o + i], inp[o + i], ss);
        float rs = (float) (1.0 / Math.sqrt(ss / C + eps));
        rstd[r] = rs;
        FloatVector rv = FloatVector.broadcast(Vec.S, rs);
        i = 0;
        for (; i < ub; i += Vec.L) {
          FloatVector.fromArray(Vec.S, inp, o + i).mul(rv).mul(FloatVector.fromArray(Vec.S, weight, wOff + i))
              .intoArray(out, o + i);
        }
        for (; i < C; i++) out[o + i] = inp[o + i] * rs * weight[wOff + i];
      }
    });
  }

  /** Accumulates into dinp and dweight. */
  public static void backward(Compute cx, float[] dinp, float[] dweight, int dwOff, float[] dout, float[] inp,
                              float[] weight, int wOff, float[] rstd, int N, int C) {
    if (N <= 0) return;
    int blocks = Math.min(N, MAX_BLOCKS);
    int rowsPerBlock = (N + blocks - 1) / blocks;
    int nb = (N + rowsPerBlock - 1) / rowsPerBlock;
    float[] partial = new float[nb * C];
    cx.parallelFor(nb, 1, (bFrom, bTo) -> {
      int ub = Vec.bound(C);
      for (int blk = bFrom; blk < bTo; blk++) {
        int pw = blk * C;
        int rEnd = Math.min(N, (blk + 1) * rowsPerBlock);
        for (int r = blk * rowsPerBlock; r < rEnd; r++) {
          int o = r * C;
          float rs = rstd[r];
          FloatVector rv = FloatVector.broadcast(Vec.S, rs);
          FloatVector sgx = FloatVector.zero(Vec.S);
          int i = 0;
          for (; i < ub; i += Vec.L) {
            FloatVector xh = FloatVector.fromArray(Vec.S, inp, o + i).mul(rv);
            FloatVector dy = FloatVector.fromArray(Vec.S, dout, o + i);
            FloatVector g = dy.mul(FloatVector.fromArray(Vec.S, weight, wOff + i));
            sgx = g.fma(xh, sgx);
            dy.fma(xh, FloatVector.fromArray(Vec.S, partial, pw + i)).intoArray(partial, pw + i);
          }
          float sumGx = Vec.sumLanes(sgx);
          for (; i < C; i++) {
            float xh = inp[o + i] * rs;
            float dy = dout[o + i];
            sumGx = Math.fma(dy * weight[wOff + i], xh, sumGx);
            partial[pw + i] = Math.fma(dy, xh, partial[pw + i]);
          }
          float mgx = sumGx / C;
          FloatVector mgxv = FloatVector.broadcast(Vec.S, mgx);
          i = 0;
          for (; i < ub; i += Vec.L) {
            FloatVector xh = FloatVector.fromArray(Vec.S, inp, o + i).mul(rv);
            FloatVector g = FloatVector.fromArray(Vec.S, dout, o + i)
                .mul(FloatVector.fromArray(Vec.S, weight, wOff + i));
            g.sub(xh.mul(mgxv)).fma(rv, FloatVector.fromArray(Vec.S, dinp, o + i)).intoArray(dinp, o + i);
          }
          for (; i < C; i++) {
            float xh = inp[o + i] * rs;
            float g = dout[o + i] * weight[wOff + i];
            dinp[o + i] = Math.fma(g - xh * mgx, rs, dinp[o + i]);
          }
        }
      }
    });
    cx.parallelFor(C, 256, (from, to) -> {
      for (int blk = 0; blk < nb; blk++) Vec.addInto(dweight, dwOff + from, partial, blk * C + from, to - from);
    });
  }
}
