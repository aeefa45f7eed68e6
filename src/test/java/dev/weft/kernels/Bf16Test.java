package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class Bf16Test {
  /**
   * Round to nearest, ties to even, worked out independently of the bit trick: the two bf16 neighbours
   * of f (truncation and the next one up in magnitude), compared by exact float64 distance.
   */
  private static short referenceRound(float f) {
    int bits = Float.floatToRawIntBits(f);
    short down = (short) (bits >>> 16);
    short up = (short) (down + 1);  // next larger magnitude, same sign (may become infinity)
    if ((bits & 0xFFFF) == 0) return down;
    double x = f, lo = Bf16.toFloat(down);
    double hi = (up & 0x7FFF) == 0x7F80 ? Math.copySign(0x1p128, x) : Bf16.toFloat(up);  // overflow: 2^128
    double dLo = Math.abs(x - lo), dHi = Math.abs(hi - x);
    if (dLo != dHi) return dLo < dHi ? down : up;
    return (down & 1) == 0 ? down : up;
  }

  private static float randomFloat(Random rnd) {
    return switch (rnd.nextInt(4)) {
      case 0 -> Float.intBitsToFloat(rnd.nextInt());                                 // any bit pattern
      case 1 -> (float) rnd.nextGaussian();
      case 2 -> Float.intBitsToFloat((rnd.nextInt() & 0x807F_FFFF));                 // subnormal or zero
      default -> Float.intBitsToFloat((rnd.nextInt(0x10000) << 16) | 0x8000);         // an exact tie
    };
  }

  @Test
  void roundsToNearestWithTiesToEvenOnSeededRandomFloats() {
    Random rnd = new Random(1);
    for (int i = 0; i < 1_000_000; i++) {
      float f = randomFloat(rnd);
      if (Float.isNaN(f)) continue;
      assertThat(Bf16.fromFloat(f)).as("fromFloat(%s) bits %08x", f, Float.floatToRawIntBits(f))
          .isEqualTo(referenceRound(f));
    }
  }

  @Test
  void tiesGoToTheEvenNeighbour() {
    // 1 + 2^-8 lies halfway between bf16 1.0 (0x3F80, even) and 1 + 2^-7 (0x3F81, odd): down to even.
    assertThat(Bf16.fromFloat(1f + 0x1p-8f)).isEqualTo((short) 0x3F80);
    // 1 + 3 * 2^-8 lies halfway between 0x3F81 (odd) and 0x3F82 (even): up to even.
    assertThat(Bf16.fromFloat(1f + 3 * 0x1p-8f)).isEqualTo((short) 0x3F82);
    // Just above a tie rounds up, just below rounds down.
    assertThat(Bf16.fromFloat(Math.nextUp(1f + 0x1p-8f))).isEqualTo((short) 0x3F81);
    assertThat(Bf16.fromFloat(Math.nextDown(1f + 3 * 0x1p-8f))).isEqualTo((short) 0x3F81);
  }

  @Test
  void nanStaysNanWithItsSignAndInfinitiesAndZerosAreKept() {
    Random rnd = new Random(2);
    for (int i = 0; i < 100_000; i++) {
      int payload = 1 + rnd.nextInt(0x7F_FFFF);  // any non-zero mantissa, including signalling NaNs 0x..0001
      int sign = rnd.nextBoolean() ? 0x8000_0000 : 0;
      float nan = Float.intBitsToFloat(sign | 0x7F80_0000 | payload);
      short h = Bf16.fromFloat(nan);
      assertThat(Float.isNaN(Bf16.toFloat(h))).as("NaN payload %06x", payload).isTrue();
      assertThat(h & 0x8000).isEqualTo(sign >>> 16);
    }
    assertThat(Bf16.fromFloat(Float.POSITIVE_INFINITY)).isEqualTo(Bf16.POSITIVE_INFINITY);
    assertThat(Bf16.fromFloat(Float.NEGATIVE_INFINITY)).isEqualTo(Bf16.NEGATIVE_INFINITY);
    assertThat(Bf16.fromFloat(Float.MAX_VALUE)).as("beyond the largest bf16: overflow").isEqualTo(Bf16.POSITIVE_INFINITY);
    assertThat(Bf16.fromFloat(-Float.MAX_VALUE)).isEqualTo(Bf16.NEGATIVE_INFINITY);
    assertThat(Bf16.fromFloat(0f)).isEqualTo((short) 0);
    assertThat(Bf16.fromFloat(-0f)).isEqualTo((short) 0x8000);
    assertThat(Float.isNaN(Bf16.toFloat(Bf16.NaN))).isTrue();
  }

  @Test
  void subnormalsRoundAndWidenExactly() {
    // The smallest float subnormal is far below half a bf16 subnormal step (2^-133): it rounds to zero.
    assertThat(Bf16.fromFloat(Float.MIN_VALUE)).isEqualTo((short) 0);
    // The smallest bf16 subnormal is 2^-133 = bits 0x0001.
    assertThat(Bf16.toFloat((short) 1)).isEqualTo(0x1p-133f);
    assertThat(Bf16.fromFloat(0x1p-133f)).isEqualTo((short) 1);
    // Half of it is a tie between 0 (even) and 0x0001: goes to zero; 3/2 of it goes to 2 (even).
    assertThat(Bf16.fromFloat(0x1p-134f)).isEqualTo((short) 0);
    assertThat(Bf16.fromFloat(3 * 0x1p-134f)).isEqualTo((short) 2);
    // The largest bf16 subnormal rounds up into the smallest normal when just past halfway.
    assertThat(Bf16.fromFloat(Float.intBitsToFloat(0x007F_8000))).isEqualTo((short) 0x0080);
  }

  @Test
  void everyBf16ValueSurvivesTheRoundTripAndWidensExactly() {
    for (int i = 0; i < 0x10000; i++) {
      short h = (short) i;
      float f = Bf16.toFloat(h);
      assertThat(Float.floatToRawIntBits(f)).isEqualTo(i << 16);
      if (Float.isNaN(f)) {
        assertThat(Bf16.fromFloat(f)).as("NaN %04x is quieted", i).isEqualTo((short) (i | 0x40));
      } else {
        assertThat(Bf16.fromFloat(f)).as("bf16 %04x", i).isEqualTo(h);
      }
    }
  }

  @Test
  void arrayVersionsGiveTheScalarBitsAtEveryLengthAndOffset() {
    Random rnd = new Random(3);
    for (int trial = 0; trial < 200; trial++) {
      int n = rnd.nextInt(100), srcOff = rnd.nextInt(7), dstOff = rnd.nextInt(7);
      float[] src = new float[srcOff + n + 3];
      for (int i = 0; i < src.length; i++) src[i] = randomFloat(rnd);
      short[] h = new short[dstOff + n + 3];
      Bf16.fromFloat(src, srcOff, h, dstOff, n);
      float[] w = new float[dstOff + n + 3];
      Bf16.toFloat(h, dstOff, w, dstOff, n);
      float[] r = new float[dstOff + n + 3];
      Bf16.round(src, srcOff, r, dstOff, n);
      for (int i = 0; i < h.length; i++) {
        boolean inside = i >= dstOff && i < dstOff + n;
        short want = inside ? Bf16.fromFloat(src[srcOff + i - dstOff]) : 0;
        assertThat(h[i]).as("trial %d element %d", trial, i).isEqualTo(want);
        assertThat(Float.floatToRawIntBits(w[i])).isEqualTo(inside ? want << 16 : 0);
        assertThat(Float.floatToRawIntBits(r[i])).isEqualTo(inside ? want << 16 : 0);
      }
    }
  }
}
