package dev.weft.comm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise reduction loops of both backends, vectorised with the Vector API. Every loop
 * computes, lane by lane, exactly what {@link ReduceOp#combine} and {@link ReduceOp#finish} compute
 * element by element (the same operands in the same order, so results are bit-identical to the scalar
 * definition): a lane-wise add or max is one IEEE operation per element, and AVG's finish is one
 * division by the group size.
 *
 * <ul>
 *   <li>{@link #allReduceSegment}: the local backend's fused all-reduce of one segment: reads the n
 *       members' arrays once (in rank order 0..n-1), writes the result once into each of them.
 *       Moves n x count x 4 bytes in and as many out.</li>
 *   <li>{@link #reduceTo}: dst := op over n source arrays (reduce-scatter into a separate output).</li>
 *   <li>{@link #combineSeg}: acc := acc op a peer's values in a shared-memory segment (the tcp
 *       backend's same-host path, {@link ShmGroup}).</li>
 *   <li>{@link #combineFrom}: dst := received (little-endian bytes in a memory segment) op own, the
 *       step of the tcp ring reduce-scatter, fused with the byte-to-float conversion.</li>
 * </ul>
 */
final class ReduceKernels {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int VL = S.length();
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
  /** Elements per block in the general (n > 4) path: n blocks plus the accumulator stay in L1/L2. */
  private static final int BLOCK = 2048;
  /** Elements per call of the fused all-reduce loops (64 KiB per array). */
  static final int CHUNK = 16 * 1024;

  private ReduceKernels() {}

  private static FloatVector apply(ReduceOp op, FloatVector a, FloatVector b) {
    return op == ReduceOp.MAX ? a.lanewise(VectorOperators.MAX, b) : a.add(b);
  }

  private static float apply(ReduceOp op, float a, float b) {
    return op == ReduceOp.MAX ? Math.max(a, b) : a + b;
  }

  /**
   * For i in [from, from + count): r = op over q = 0..n-1 of a[q][o[q] + i], finished for n; then
   * a[q][o[q] + i] := r for every q. Each element is read and written once per array.
   */
  static void allReduceSegment(float[][] a, int[] o, int n, int from, int count, ReduceOp op, float[] scratch) {
    // Cut into chunks: short calls get the loops compiled (not stuck in an on-stack replacement of
    // one long first call), and each chunk of the n arrays stays within L2 while it is written back.
    for (int c = 0; c < count; c += CHUNK) {
      int len = Math.min(CHUNK, count - c);
      int at = from + c;
      switch (n) {
        case 2 -> allReduce2(a[0], o[0] + at, a[1], o[1] + at, len, op);
        case 3 -> allReduce3(a[0], o[0] + at, a[1], o[1] + at, a[2], o[2] + at, len, op);
        case 4 -> allReduce4(a[0], o[0] + at, a[1], o[1] + at, a[2], o[2] + at, a[3], o[3] + at, len, op);
        default -> {
          for (int b = 0; b < len; b += BLOCK) {
            int bl = Math.min(BLOCK, len - b);
            reduceTo(a, o, n, at + b, bl, op, scratch, 0);
            for (int q = 0; q < n; q++) System.arraycopy(scratch, 0, a[q], o[q] + at + b, bl);
          }
        }
      }
    }
  }

  private static void allReduce2(float[] a0, int o0, float[] a1, int o1, int count, ReduceOp op) {
    boolean avg = op == ReduceOp.AVG;
    int i = 0;
    for (int up = S.loopBound(count); i < up; i += VL) {
      FloatVector v = apply(op, FloatVector.fromArray(S, a0, o0 + i), FloatVector.fromArray(S, a1, o1 + i));
      if (avg) v = v.div(2f);
      v.intoArray(a0, o0 + i);
      v.intoArray(a1, o1 + i);
    }
    for (; i < count; i++) {
      float r = apply(op, a0[o0 + i], a1[o1 + i]);
      if (avg) r /= 2f;
      a0[o0 + i] = r;
      a1[o1 + i] = r;
    }
  }

  private static void allReduce3(float[] a0, int o0, float[] a1, int o1, float[] a2, int o2, int count, ReduceOp op) {
    boolean avg = op == ReduceOp.AVG;
    int i = 0;
    for (int up = S.loopBound(count); i < up; i += VL) {
      FloatVector v = apply(op, FloatVector.fromArray(S, a0, o0 + i), FloatVector.fromArray(S, a1, o1 + i));
      v = apply(op, v, FloatVector.fromArray(S, a2, o2 + i));
      if (avg) v = v.div(3f);
      v.intoArray(a0, o0 + i);
      v.intoArray(a1, o1 + i);
      v.intoArray(a2, o2 + i);
    }
    for (; i < count; i++) {
      float r = apply(op, apply(op, a0[o0 + i], a1[o1 + i]), a2[o2 + i]);
      if (avg) r /= 3f;
      a0[o0 + i] = r;
      a1[o1 + i] = r;
      a2[o2 + i] = r;
    }
  }

  private static void allReduce4(float[] a0, int o0, float[] a1, int o1, float[] a2, int o2, float[] a3, int o3,
                                 int count, ReduceOp op) {
    boolean avg = op == ReduceOp.AVG;
    int i = 0;
    for (int up = S.loopBound(count); i < up; i += VL) {
      FloatVector v = apply(op, FloatVector.fromArray(S, a0, o0 + i), FloatVector.fromArray(S, a1, o1 + i));
      v = apply(op, v, FloatVector.fromArray(S, a2, o2 + i));
      v = apply(op, v, FloatVector.fromArray(S, a3, o3 + i));
      if (avg) v = v.div(4f);
      v.intoArray(a0, o0 + i);
      v.intoArray(a1, o1 + i);
      v.intoArray(a2, o2 + i);
      v.intoArray(a3, o3 + i);
    }
    for (; i < count; i++) {
      float r = apply(op, apply(op, apply(op, a0[o0 + i], a1[o1 + i]), a2[o2 + i]), a3[o3 + i]);
      if (avg) r /= 4f;
      a0[o0 + i] = r;
      a1[o1 + i] = r;
      a2[o2 + i] = r;
      a3[o3 + i] = r;
    }
  }

  /** dst[dstOff, +count) := op over q = 0..n-1 (in order) of a[q][o[q] + from, +count), finished for n. */
  static void reduceTo(float[][] a, int[] o, int n, int from, int count, ReduceOp op, float[] dst, int dstOff) {
    if (count <= 0) return;
    for (int b = 0; b < count; b += BLOCK) {
      int len = Math.min(BLOCK, count - b);
      System.arraycopy(a[0], o[0] + from + b, dst, dstOff + b, len);
      for (int q = 1; q < n; q++) combine(dst, dstOff + b, a[q], o[q] + from + b, len, op);
      finish(dst, dstOff + b, len, op, n);
    }
  }

  /** acc[accOff + i] := acc[accOff + i] op x[xOff + i]. */
  static void combine(float[] acc, int accOff, float[] x, int xOff, int len, ReduceOp op) {
    int i = 0;
    for (int up = S.loopBound(len); i < up; i += VL) {
      apply(op, FloatVector.fromArray(S, acc, accOff + i), FloatVector.fromArray(S, x, xOff + i)).intoArray(acc, accOff + i);
    }
    for (; i < len; i++) acc[accOff + i] = apply(op, acc[accOff + i], x[xOff + i]);
  }

  /**
   * acc[accOff + i] := acc[accOff + i] op x[i] for i in [0, len), where x is len native-order floats at
   * byte offset xOff of {@code seg} (a peer's slot in a shared-memory segment).
   */
  static void combineSeg(float[] acc, int accOff, MemorySegment seg, long xOff, int len, ReduceOp op) {
    ByteOrder no = ByteOrder.nativeOrder();
    int i = 0;
    for (int up = S.loopBound(len); i < up; i += VL) {
      apply(op, FloatVector.fromArray(S, acc, accOff + i), FloatVector.fromMemorySegment(S, seg, xOff + 4L * i, no))
          .intoArray(acc, accOff + i);
    }
    for (; i < len; i++) acc[accOff + i] = apply(op, acc[accOff + i], seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, xOff + 4L * i));
  }

  /** AVG: divides by n; other ops: nothing. */
  static void finish(float[] acc, int off, int len, ReduceOp op, int n) {
    if (op != ReduceOp.AVG) return;
    float fn = n;
    int i = 0;
    for (int up = S.loopBound(len); i < up; i += VL) FloatVector.fromArray(S, acc, off + i).div(fn).intoArray(acc, off + i);
    for (; i < len; i++) acc[off + i] /= fn;
  }

  /**
   * dst[dstOff + i] := recv[i] op own[ownOff + i] for i in [0, len), where recv is len little-endian
   * floats at byte offset recvOff of {@code recv}; then, if {@code finishN > 0}, finished for that
   * group size. dst may be own (in place).
   */
  static void combineFrom(MemorySegment recv, long recvOff, float[] own, int ownOff, float[] dst, int dstOff, int len,
                          ReduceOp op, int finishN) {
    boolean avg = finishN > 0 && op == ReduceOp.AVG;
    float fn = finishN;
    int i = 0;
    for (int up = S.loopBound(len); i < up; i += VL) {
      FloatVector v = apply(op, FloatVector.fromMemorySegment(S, recv, recvOff + 4L * i, LE),
          FloatVector.fromArray(S, own, ownOff + i));
      if (avg) v = v.div(fn);
      v.intoArray(dst, dstOff + i);
    }
    for (; i < len; i++) {
      float r = apply(op, recv.get(FLOAT_LE, recvOff + 4L * i), own[ownOff + i]);
      if (avg) r /= fn;
      dst[dstOff + i] = r;
    }
  }
}
