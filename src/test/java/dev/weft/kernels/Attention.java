package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The reference the attention kernels are checked against (test code: the model runs {@link BlockAttention}):
 * causal multi-head self-attention with softmax holding the whole T x T probability matrix, as in GPT-2.
 * It is itself checked against finite differences (AttentionTest). Shapes: qkv [B,T,3C] holding q, k, v side by
 * side (each C = NH * hs wide, head h in columns h*hs .. (h+1)*hs of each), att [B,NH,T,T] the softmax
 * probabilities saved for backward (entries above the diagonal are 0), out [B,T,C] with heads
 * concatenated. {@code att = softmax(mask(q k^T / sqrt(hs)))}, {@code out = att v}.
 *
 * <p>Backward, per head with P = att, scale = 1/sqrt(hs): {@code dP = dout v^T}, {@code dv += P^T dout},
 * {@code dS = P * (dP - rowsum(P * dP)) * scale} (softmax backward, masked), {@code dq += dS k},
 * {@code dk += dS^T q}.
 *
 * <p>Parallel over (b, h) pairs; inside, queries are processed in blocks of {@link #BLOCK} rows and each
 * product is a serial {@link Compute#gemm} on head slices (leading dimension 3C or C), restricted to the
 * keys the block can see, so most of the masked upper triangle is never computed. The work for one (b, h)
 * is serial and writes only that head's columns, so results are bit-identical for any thread count. The
 * backward's per-block scratch (BLOCK x T floats) is kept per thread.
 */
public final class Attention {
  /** Query rows per block. */
  static final int BLOCK = 64;

  private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

  private Attention() {}

  public static void forward(Compute cx, float[] out, float[] att, float[] qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    int C3 = 3 * C;
    float scale = (float) (1.0 / Math.sqrt(hs));
    cx.parallelFor(B * NH, 1, (from, to) -> {
      Compute sx = cx.serial();
      for (int bh = from; bh < to; bh++) {
        int b = bh / NH;
        int h = bh % NH;
        int qOff = b * T * C3 + h * hs;
        int kOff = qOff + C;
        int vOff = qOff + 2 * C;
        int aOff = bh * T * T;
        int oOff = b * T * C + h * hs;
        for (int i0 = 0; i0 < T; i0 += BLOCK) {
          int i1 = Math.min(T, i0 + BLOCK);
          int bt = i1 - i0;
          // S[i0:i1, 0:i1] = q k^T
          sx.gemm(false, true, bt, i1, hs, qkv, qOff + i0 * C3, C3, qkv, kOff, C3, 0f, att, aOff + i0 * T, T);
          for (int i = i0; i < i1; i++) softmaxRow(att, aOff + i * T, i + 1, T, scale);
          // out[i0:i1] = P[i0:i1, 0:i1] v[0:i1]
          sx.gemm(false, false, bt, hs, i1, att, aOff + i0 * T, T, qkv, vOff, C3, 0f, out, oOff + i0 * C, C);
        }
      }
    });
  }

  /** Accumulates into dqkv [B,T,3C]. */
  public static void backward(Compute cx, float[] dqkv, float[] dout, float[] qkv, float[] att,
                              int B, int T, int C, int NH) {
    int hs = C / NH;
    int C3 = 3 * C;
    float scale = (float) (1.0 / Math.sqrt(hs));
    cx.parallelFor(B * NH, 1, (from, to) -> {
      Compute sx = cx.serial();
      int need = Math.min(T, BLOCK) * T;
      float[] ds = SCRATCH.get();
      if (ds.length < need) {
        ds = new float[need];
        SCRATCH.set(ds);
      }
      for (int bh = from; bh < to; bh++) {
        int b = bh / NH;
        int h = bh % NH;
        int qOff = b * T * C3 + h * hs;
        int kOff = qOff + C;
        int vOff = qOff + 2 * C;
        int aOff = bh * T * T;
        int oOff = b * T * C + h * hs;
        for (int i0 = 0; i0 < T; i0 += BLOCK) {
          int i1 = Math.min(T, i0 + BLOCK);
          int bt = i1 - i0;
          int ld = i1; // scratch rows hold the i1 visible keys
          // dP = dout v^T  (bt x i1)
          sx.gemm(false, true, bt, i1, hs, dout, oOff + i0 * C, C, qkv, vOff, C3, 0f, ds, 0, ld);
          // dv[0:i1] += P[i0:i1, 0:i1]^T dout[i0:i1]
          sx.gemm(true, false, i1, hs, bt, att, aOff + i0 * T, T, dout, oOff + i0 * C, C, 1f, dqkv, vOff, C3);
          // softmax backward, in place: dS = P (dP - <P, dP>) scale; zero above the diagonal
          for (int i = i0; i < i1; i++) {
            int p = aOff + i * T;
            int d = (i - i0) * ld;
            // the P entries above the diagonal are 0, so the row can be processed up to a whole number of
            // vectors (within the i1 computed columns) without scalar tails
            int n = Math.min(i1, roundUp(i + 1));
            float dot = Vec.dot(att, p, ds, d, n);
            softmaxGrad(ds, d, att, p, n, dot, scale);
            Vec.zero(ds, d + n, i1 - n);
          }
          // dq[i0:i1] += dS k[0:i1]
          sx.gemm(false, false, bt, hs, i1, ds, 0, ld, qkv, kOff, C3, 1f, dqkv, qOff + i0 * C3, C3);
          // dk[0:i1] += dS^T q[i0:i1]
          sx.gemm(true, false, i1, hs, bt, ds, 0, ld, qkv, qOff + i0 * C3, C3, 1f, dqkv, kOff, C3);
        }
      }
    });
  }

  private static int roundUp(int n) {
    return (n + Vec.L - 1) / Vec.L * Vec.L;
  }

  /**
   * In place on one row of scores (unscaled, the first n visible): probabilities softmax(scale * s) in
   * [0, n), zeros in [n, T). Columns n .. (n rounded up to whole vectors) are masked with -inf and go
   * through the vector exp (giving 0), so short rows need no scalar tail.
   */
  private static void softmaxRow(float[] a, int row, int n, int T, float scale) {
    int nv = Math.min(T, roundUp(n));
    java.util.Arrays.fill(a, row + n, row + nv, Float.NEGATIVE_INFINITY);
    float mx = Vec.max(a, row, nv); // scale > 0, so the max of the scaled scores is scale * mx
    FloatVector mv = FloatVector.broadcast(Vec.S, mx);
    FloatVector acc = FloatVector.zero(Vec.S);
    int j = 0;
    int ub = Vec.bound(nv);
    for (; j < ub; j += Vec.L) {
      FloatVector e = Vec.exp(FloatVector.fromArray(Vec.S, a, row + j).sub(mv).mul(scale));
      e.intoArray(a, row + j);
      acc = acc.add(e);
    }
    float sum = Vec.sumLanes(acc);
    for (; j < nv; j++) {
      float e = Vec.exp((a[row + j] - mx) * scale);
      a[row + j] = e;
      sum += e;
    }
    Vec.scale(a, row, nv, 1f / sum);
    Vec.zero(a, row + nv, T - nv);
  }

  /** ds[d+j] = att[p+j] * (ds[d+j] - dot) * scale for j in [0, n). */
  private static void softmaxGrad(float[] ds, int d, float[] att, int p, int n, float dot, float scale) {
    int j = 0;
    int ub = Vec.bound(n);
    FloatVector dv = FloatVector.broadcast(Vec.S, dot);
    for (; j < ub; j += Vec.L) {
      FloatVector g = FloatVector.fromArray(Vec.S, ds, d + j).sub(dv);
      g.mul(FloatVector.fromArray(Vec.S, att, p + j)).mul(scale).intoArray(ds, d + j);
    }
    for (; j < n; j++) ds[d + j] = (ds[d + j] - dot) * att[p + j] * scale;
  }
}
