package dev.weft.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * bfloat16 numbers stored in Java {@code short}s: the top 16 bits of an IEEE float (sign, 8 exponent bits,
 * 7 mantissa bits), so a bf16 value has fp32's range and about 3 significant decimal digits.
 *
 * <p>float -> bf16 rounds to nearest, ties to even, on the bit pattern:
 * {@code bf16 = (bits + 0x7FFF + ((bits >> 16) & 1)) >>> 16}. That carries into the exponent when it must
 * (so the largest floats round up to infinity, as IEEE rounding says), keeps infinities and zeros (with
 * their sign), and rounds subnormals like any other value. NaN stays NaN: its sign and top payload bits are
 * kept and the quiet bit is set, since truncating a signalling NaN's payload could otherwise leave an
 * infinity. bf16 -> float is exact: {@code bits = bf16 << 16}.
 *
 * <p>The array versions run on the Vector API and give the same bits as the scalar ones (integer
 * arithmetic only, so they are deterministic on every machine).
 */
public final class Bf16 {
  static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
  static final VectorSpecies<Integer> IS = FS.withLanes(int.class);
  /** Shorts with as many lanes as {@link #FS}: half its bit size. */
  static final VectorSpecies<Short> SS =
      VectorSpecies.of(short.class, VectorShape.forBitSize(FS.vectorBitSize() / 2));
  private static final int V = FS.length();

  /** The positive and negative infinities and a quiet NaN, as bf16 bits. */
  public static final short POSITIVE_INFINITY = (short) 0x7F80;
  public static final short NEGATIVE_INFINITY = (short) 0xFF80;
  public static final short NaN = (short) 0x7FC0;

  private Bf16() {}

  /** The bf16 nearest to {@code f} (ties to even); NaN stays NaN. */
  public static short fromFloat(float f) {
    int bits = Float.floatToRawIntBits(f);
    if ((bits & 0x7FFF_FFFF) > 0x7F80_0000) return (short) ((bits >>> 16) | 0x0040);
    return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
  }

  /** The float equal to bf16 {@code h} (exact). */
  public static float toFloat(short h) {
    return Float.intBitsToFloat(h << 16);
  }

  /** {@code f} rounded to bf16 precision, as a float: {@code toFloat(fromFloat(f))}. */
  public static float round(float f) {
    return toFloat(fromFloat(f));
  }

  /** dst[dstOff + i] = fromFloat(src[srcOff + i]) for i in [0, n). */
  public static void fromFloat(float[] src, int srcOff, short[] dst, int dstOff, int n) {
    java.util.Objects.checkFromIndexSize(srcOff, n, src.length);
    java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
    int i = 0;
    for (int bound = n - V; i <= bound; i += V) {
      IntVector h = roundedHighBits(FloatVector.fromArray(FS, src, srcOff + i).reinterpretAsInts());
      ((ShortVector) h.convertShape(VectorOperators.I2S, SS, 0)).intoArray(dst, dstOff + i);
    }
    for (; i < n; i++) dst[dstOff + i] = fromFloat(src[srcOff + i]);
  }

  /** dst[dstOff + i] = toFloat(src[srcOff + i]) for i in [0, n). */
  public static void toFloat(short[] src, int srcOff, float[] dst, int dstOff, int n) {
    java.util.Objects.checkFromIndexSize(srcOff, n, src.length);
    java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
    int i = 0;
    for (int bound = n - V; i <= bound; i += V) {
      IntVector w = (IntVector) ShortVector.fromArray(SS, src, srcOff + i).convertShape(VectorOperators.S2I, IS, 0);
      w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
    }
    for (; i < n; i++) dst[dstOff + i] = toFloat(src[srcOff + i]);
  }

  /** dst[dstOff + i] = round(src[srcOff + i]) for i in [0, n): fp32 values rounded to bf16 precision. */
  public static void round(float[] src, int srcOff, float[] dst, int dstOff, int n) {
    java.util.Objects.checkFromIndexSize(srcOff, n, src.length);
    java.util.Objects.checkFromIndexSize(dstOff, n, dst.length);
    int i = 0;
    for (int bound = n - V; i <= bound; i += V) {
      IntVector h = roundedHighBits(FloatVector.fromArray(FS, src, srcOff + i).reinterpretAsInts());
      h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
    }
    for (; i < n; i++) dst[dstOff + i] = round(src[srcOff + i]);
  }

  /** Lane-wise {@link #fromFloat(float)} on float bit patterns, the bf16 in the low 16 bits of each lane. */
  private static IntVector roundedHighBits(IntVector bits) {
    IntVector high = bits.lanewise(VectorOperators.LSHR, 16);
    IntVector rounded = bits.add(0x7FFF).add(high.and(1)).lanewise(VectorOperators.LSHR, 16);
    VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
    return rounded.blend(high.or(0x0040), nan);
  }
}
