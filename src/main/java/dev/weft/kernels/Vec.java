package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Small vectorised helpers over float[] slices (jdk.incubator.vector, preferred species, scalar tails)
 * shared by the kernels. Every reduction visits elements in a fixed order (lane-wise partial sums, then a
 * fixed lane reduction, then the tail), so results depend only on the data and length, never on threads.
 *
 * <p>Bit-for-bit determinism across JIT tiers: {@code reduceLanes(ADD)} and {@code lanewise(EXP)} may give
 * different bits in interpreted and compiled code (the order of a lane reduction is unspecified; EXP uses a
 * vector math library once compiled). A resumed run or a parallel layout must reproduce a run bit for bit,
 * so the kernels use {@link #sumLanes} (lanes added in index order) and {@link #exp} (a polynomial built from
 * IEEE add, multiply and fma only) instead.
 */
final class Vec {
  static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  static final int L = S.length();

  private Vec() {}

  /** Largest multiple of the vector length not above n. */
  static int bound(int n) {
    return S.loopBound(n);
  }

  // exp(x) = 2^k e^r with k = round(x / ln 2), r = x - k ln 2 in [-ln2/2, ln2/2]; e^r by its degree-6
  // Taylor-like minimax polynomial (Cephes expf coefficients), about 1 ulp. Inputs below EXP_LO give 0,
  // above EXP_HI are clamped (softmax and GELU only call it on arguments <= 0 or clamped ones).
  private static final float EXP_LO = -87.0f;
  private static final float EXP_HI = 88.0f;
  private static final float LOG2E = 1.44269504088896341f;
  private static final float LN2_HI = 0.693359375f;
  private static final float LN2_LO = -2.12194440e-4f;
  private static final float ROUND_MAGIC = 12582912f; // 1.5 * 2^23: adding it rounds to an integer
  private static final float P0 = 1.9875691500e-4f;
  private static final float P1 = 1.3981999507e-3f;
  private static final float P2 = 8.3334519073e-3f;
  private static final float P3 = 4.1665795894e-2f;
  private static final float P4 = 1.6666665459e-1f;
  private static final float P5 = 5.0000001201e-1f;

  /** e^x lane-wise, deterministic (see the class comment). */
  static FloatVector exp(FloatVector x) {
    var tiny = x.compare(VectorOperators.LT, EXP_LO);
    FloatVector xc = x.max(EXP_LO).min(EXP_HI);
    FloatVector t = xc.fma(FloatVector.broadcast(x.species(), LOG2E), FloatVector.broadcast(x.species(), ROUND_MAGIC));
    FloatVector k = t.sub(ROUND_MAGIC);
    FloatVector r = k.fma(FloatVector.broadcast(x.species(), -LN2_HI), xc);
    r = k.fma(FloatVector.broadcast(x.species(), -LN2_LO), r);
    FloatVector p = r.fma(FloatVector.broadcast(x.species(), P0), FloatVector.broadcast(x.species(), P1));
    p = p.fma(r, FloatVector.broadcast(x.species(), P2));
    p = p.fma(r, FloatVector.broadcast(x.species(), P3));
    p = p.fma(r, FloatVector.broadcast(x.species(), P4));
    p = p.fma(r, FloatVector.broadcast(x.species(), P5));
    p = p.fma(r.mul(r), r).add(1f);
    var ki = t.viewAsIntegralLanes().sub(Float.floatToRawIntBits(ROUND_MAGIC));
    FloatVector pow2 = ki.add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes().reinterpretAsFloats();
    return p.mul(pow2).blend(0f, tiny);
  }

  /** e^x for one float, with the same polynomial as {@link #exp(FloatVector)} (deterministic). */
  static float exp(float x) {
    if (x < EXP_LO) return 0f;
    if (Float.isNaN(x)) return x;
    float xc = Math.min(x, EXP_HI);
    float t = Math.fma(xc, LOG2E, ROUND_MAGIC);
    float k = t - ROUND_MAGIC;
    float r = Math.fma(k, -LN2_HI, xc);
    r = Math.fma(k, -LN2_LO, r);
    float p = Math.fma(r, P0, P1);
    p = Math.fma(p, r, P2);
    p = Math.fma(p, r, P3);
    p = Math.fma(p, r, P4);
    p = Math.fma(p, r, P5);
    p = Math.fma(p, r * r, r) + 1f;
    int ki = Float.floatToRawIntBits(t) - Float.floatToRawIntBits(ROUND_MAGIC);
    return p * Float.intBitsToFloat((ki + 127) << 23);
  }

  /** The sum of a vector's lanes, added in lane order (deterministic, unlike reduceLanes(ADD)). */
  static float sumLanes(FloatVector v) {
    float[] lanes = LANES.get();
    v.intoArray(lanes, 0);
    float s = 0f;
    for (int i = 0; i < lanes.length; i++) s += lanes[i];
    return s;
  }

  private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

  /** sum of a[off .. off+n). */
  static float sum(float[] a, int off, int n) {
    int i = 0;
    int ub = bound(n);
    FloatVector acc = FloatVector.zero(S);
    for (; i < ub; i += L) acc = acc.add(FloatVector.fromArray(S, a, off + i));
    float s = sumLanes(acc);
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
    float s = sumLanes(acc);
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
      FloatVector e = exp(FloatVector.fromArray(S, a, off + i).sub(sh));
      e.intoArray(a, off + i);
      acc = acc.add(e);
    }
    float s = sumLanes(acc);
    for (; i < n; i++) {
      float e = exp(a[off + i] - shift);
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
    for (; i < ub; i += L) acc = acc.add(exp(FloatVector.fromArray(S, a, off + i).sub(sh)));
    float s = sumLanes(acc);
    for (; i < n; i++) s += exp(a[off + i] - shift);
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
