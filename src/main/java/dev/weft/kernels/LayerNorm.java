package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * LayerNorm over the last dimension, eps = 1e-5 (GPT-2) unless given. Shapes: inp/out [N,C], weight/bias [C],
 * mean/rstd [N] saved for backward. {@code out = (x - mean) * rstd * weight + bias},
 * {@code rstd = 1 / sqrt(var + eps)} with the biased variance.
 *
 * <p>Backward, per row with {@code xhat = (x - mean) rstd} and {@code g = dout * weight}:
 * {@code dinp += rstd (g - mean(g) - xhat mean(g xhat))}, {@code dweight += sum_rows dout xhat},
 * {@code dbias += sum_rows dout}.
 *
 * <p>Parallel over rows, vectorised. The variance is computed in two passes (sum of squared deviations),
 * which avoids cancellation. dweight/dbias are summed per fixed block of rows into partials that are then
 * added in block order; the blocks depend only on N, so results are bit-identical for any thread count.
 */
public final class LayerNorm {
  public static final float EPS = 1e-5f;
  /** Number of row blocks (and partial sums) used by backward for dweight/dbias, at most. */
  private static final int MAX_BLOCKS = 16;

  private LayerNorm() {}

  public static void forward(Compute cx, float[] out, float[] mean, float[] rstd, float[] inp,
                             float[] weight, int wOff, float[] bias, int bOff, int N, int C) {
    forward(cx, out, mean, rstd, inp, weight, wOff, bias, bOff, N, C, EPS);
  }

  /** As above with epsilon {@code eps}. */
  public static void forward(Compute cx, float[] out, float[] mean, float[] rstd, float[] inp,
                             float[] weight, int wOff, float[] bias, int bOff, int N, int C, float eps) {
    int grain = Math.max(1, 8192 / Math.max(1, C));
    cx.parallelFor(N, grain, (from, to) -> {
      int ub = Vec.bound(C);
      for (int r = from; r < to; r++) {
        int o = r * C;
        float m = Vec.sum(inp, o, C) / C;
        FloatVector mv = FloatVector.broadcast(Vec.S, m);
        FloatVector acc = FloatVector.zero(Vec.S);
        int i = 0;
        for (; i < ub; i += Vec.L) {
          FloatVector d = FloatVector.fromArray(Vec.S, inp, o + i).sub(mv);
          acc = d.fma(d, acc);
        }
        float ss = Vec.sumLanes(acc);
        for (; i < C; i++) {
          float d = inp[o + i] - m;
          ss = Math.fma(d, d, ss);
        }
        float rs = (float) (1.0 / Math.sqrt(ss / C + eps));
        mean[r] = m;
        rstd[r] = rs;
        FloatVector rv = FloatVector.broadcast(Vec.S, rs);
        i = 0;
        for (; i < ub; i += Vec.L) {
          FloatVector xh = FloatVector.fromArray(Vec.S, inp, o + i).sub(mv).mul(rv);
          xh.fma(FloatVector.fromArray(Vec.S, weight, wOff + i), FloatVector.fromArray(Vec.S, bias, bOff + i))
              .intoArray(out, o + i);
        }
        for (; i < C; i++) out[o + i] = Math.fma((inp[o + i] - m) * rs, weight[wOff + i], bias[bOff + i]);
      }
    });
  }

  /** Accumulates into dinp, dweight and dbias. */
  public static void backward(Compute cx, float[] dinp, float[] dweight, int dwOff, float[] dbias, int dbOff,
                              float[] dout, float[] inp, float[] weight, int wOff, float[] mean, float[] rstd,
                              int N, int C) {
    if (N <= 0) return;
    int blocks = Math.min(N, MAX_BLOCKS);
    int rowsPerBlock = (N + blocks - 1) / blocks;
    int nb = (N + rowsPerBlock - 1) / rowsPerBlock;
    // partial[blk] = dweight partial (C) then dbias partial (C)
    float[] partial = new float[nb * 2 * C];
    cx.parallelFor(nb, 1, (bFrom, bTo) -> {
      int ub = Vec.bound(C);
      for (int blk = bFrom; blk < bTo; blk++) {
        int pw = blk * 2 * C;
        int pb = pw + C;
        int rEnd = Math.min(N, (blk + 1) * rowsPerBlock);
        for (int r = blk * rowsPerBlock; r < rEnd; r++) {
          int o = r * C;
          float m = mean[r];
          float rs = rstd[r];
          FloatVector mv = FloatVector.broadcast(Vec.S, m);
          FloatVector rv = FloatVector.broadcast(Vec.S, rs);
          // pass 1: mean(g), mean(g xhat); accumulate partial dweight/dbias
          FloatVector sg = FloatVector.zero(Vec.S);
          FloatVector sgx = FloatVector.zero(Vec.S);
          int i = 0;
          for (; i < ub; i += Vec.L) {
            FloatVector xh = FloatVector.fromArray(Vec.S, inp, o + i).sub(mv).mul(rv);
            FloatVector dy = FloatVector.fromArray(Vec.S, dout, o + i);
            FloatVector g = dy.mul(FloatVector.fromArray(Vec.S, weight, wOff + i));
            sg = sg.add(g);
            sgx = g.fma(xh, sgx);
            FloatVector.fromArray(Vec.S, partial, pb + i).add(dy).intoArray(partial, pb + i);
            dy.fma(xh, FloatVector.fromArray(Vec.S, partial, pw + i)).intoArray(partial, pw + i);
          }
          float sumG = Vec.sumLanes(sg);
          float sumGx = Vec.sumLanes(sgx);
          for (; i < C; i++) {
            float xh = (inp[o + i] - m) * rs;
            float dy = dout[o + i];
            float g = dy * weight[wOff + i];
            sumG += g;
            sumGx = Math.fma(g, xh, sumGx);
            partial[pb + i] += dy;
            partial[pw + i] = Math.fma(dy, xh, partial[pw + i]);
          }
          float mg = sumG / C;
          float mgx = sumGx / C;
          // pass 2: dinp += rstd (g - mean(g) - xhat mean(g xhat))
          FloatVector mgv = FloatVector.broadcast(Vec.S, mg);
          FloatVector mgxv = FloatVector.broadcast(Vec.S, mgx);
          i = 0;
          for (; i < ub; i += Vec.L) {
            FloatVector xh = FloatVector.fromArray(Vec.S, inp, o + i).sub(mv).mul(rv);
            FloatVector g = FloatVector.fromArray(Vec.S, dout, o + i)
                .mul(FloatVector.fromArray(Vec.S, weight, wOff + i));
            FloatVector t = g.sub(mgv).sub(xh.mul(mgxv));
            t.fma(rv, FloatVector.fromArray(Vec.S, dinp, o + i)).intoArray(dinp, o + i);
          }
          for (; i < C; i++) {
            float xh = (inp[o + i] - m) * rs;
            float g = dout[o + i] * weight[wOff + i];
            dinp[o + i] = Math.fma(g - mg - xh * mgx, rs, dinp[o + i]);
          }
        }
      }
    });
    // combine partials in block order (deterministic), parallel over columns
    cx.parallelFor(C, 256, (from, to) -> {
      for (int blk = 0; blk < nb; blk++) {
        int pw = blk * 2 * C;
        Vec.addInto(dweight, dwOff + from, partial, pw + from, to - from);
        Vec.addInto(dbias, dbOff + from, partial, pw + C + from, to - from);
      }
    });
  }
}
