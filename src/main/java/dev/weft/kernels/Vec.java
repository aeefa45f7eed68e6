package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Small vectorised helpers over float[] slices (jdk.incubator.vector, preferred species, scalar tails)
 * shared by the kernels. Every reduction visits elements in a fixed order (lane-wise partial sums, then a
 * fixed lane reduction, then the tail), so results depend only on the data and length, never on threads.
 */
final class Vec {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  static final int L = S.length();

  private Vec() {}

  /** Largest multiple of the vector length not above n. */
  static int bound(int n) {
    return S.loopBound(n);
  }

  /** sum of a[off .. off+n). */
  static float sum(float[] a, int off, int n) {
    int i = 0;
    int ub = bound(n);
    FloatVector acc = FloatVector.zero(S);
    for (; i < ub; i += L) acc = acc.add(FloatVector.fromArray(S, a, off + i));
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) s += a[off + i];
    return s;
  }

  /** sum of a[aOff+i] * b[bOff+i] over i in [0, n). */
  static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
    int i = 0;
    int ub = bound(n);
    FloatVector acc = FloatVector.zero(S);
    for (; i < ub; i += L) {
      acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
    }
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) s = Math.fma(a[aOff + i], b[bOff + i], s);
    return s;
  }

  /** max of a[off .. off+n), n >= 1. */
  static float max(float[] a, int off, int n) {
    int i = 0;
    int ub = bound(n);
    float m = Float.NEGATIVE_INFINITY;
    if (ub > 0) {
      FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
      for (; i < ub; i += L) acc = acc.max(FloatVector.fromArray(S, a, off + i));
      m = acc.reduceLanes(VectorOperators.MAX);
    }
    for (; i < n; i++) m = Math.max(m, a[off + i]);
    return m;
  }

  /** a[off+i] = exp(a[off+i] - shift) for i in [0, n); returns the sum of the new values. */
  static float expShiftInPlace(float[] a, int off, int n, float shift) {
    int i = 0;
    int ub = bound(n);
    FloatVector acc = FloatVector.zero(S);
    FloatVector sh = FloatVector.broadcast(S, shift);
    for (; i < ub; i += L) {
      FloatVector e = FloatVector.fromArray(S, a, off + i).sub(sh).lanewise(VectorOperators.EXP);
      e.intoArray(a, off + i);
      acc = acc.add(e);
    }
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) {
      float e = (float) Math.exp(a[off + i] - shift);
      a[off + i] = e;
      s += e;
    }
    return s;
  }

  /** Sum of exp(a[off+i] - shift) for i in [0, n), without storing. Same arithmetic as expShiftInPlace. */
  static float sumExpShift(float[] a, int off, int n, float shift) {
    int i = 0;
    int ub = bound(n);
    FloatVector acc = FloatVector.zero(S);
    FloatVector sh = FloatVector.broadcast(S, shift);
    for (; i < ub; i += L) acc = acc.add(FloatVector.fromArray(S, a, off + i).sub(sh).lanewise(VectorOperators.EXP));
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (; i < n; i++) s += (float) Math.exp(a[off + i] - shift);
    return s;
  }

  /** a[off+i] *= f for i in [0, n). */
  static void scale(float[] a, int off, int n, float f) {
    int i = 0;
    int ub = bound(n);
    for (; i < ub; i += L) FloatVector.fromArray(S, a, off + i).mul(f).intoArray(a, off + i);
    for (; i < n; i++) a[off + i] *= f;
  }

  /** a[off+i] = 0 for i in [0, n). */
  static void zero(float[] a, int off, int n) {
    java.util.Arrays.fill(a, off, off + n, 0f);
  }

  /** dst[dOff+i] += src[sOff+i] for i in [0, n). */
  static void addInto(float[] dst, int dOff, float[] src, int sOff, int n) {
    int i = 0;
    int ub = bound(n);
    for (; i < ub; i += L) {
      FloatVector.fromArray(S, dst, dOff + i).add(FloatVector.fromArray(S, src, sOff + i)).intoArray(dst, dOff + i);
    }
    for (; i < n; i++) dst[dOff + i] += src[sOff + i];
  }

  /** out[oOff+i] = a[aOff+i] + b[bOff+i] for i in [0, n). */
  static void add(float[] out, int oOff, float[] a, int aOff, float[] b, int bOff, int n) {
    int i = 0;
    int ub = bound(n);
    for (; i < ub; i += L) {
      FloatVector.fromArray(S, a, aOff + i).add(FloatVector.fromArray(S, b, bOff + i)).intoArray(out, oOff + i);
    }
    for (; i < n; i++) out[oOff + i] = a[aOff + i] + b[bOff + i];
  }
}
