package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class VecTest {
  @Test
  void expIsAccurateToAFewUlpsAndTheVectorAndScalarFormsAgreeBitForBit() {
    SplittableRandom r = new SplittableRandom(5);
    float[] x = new float[Vec.L * 2000];
    for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 170 - 86);
    float[] v = new float[x.length];
    for (int i = 0; i < x.length; i += Vec.L) Vec.exp(FloatVector.fromArray(Vec.S, x, i)).intoArray(v, i);
    for (int i = 0; i < x.length; i++) {
      float s = Vec.exp(x[i]);
      assertThat(Float.floatToRawIntBits(v[i])).as("x=%s", x[i]).isEqualTo(Float.floatToRawIntBits(s));
      double exact = Math.exp(x[i]);
      assertThat(Math.abs(s - exact) / exact).as("x=%s", x[i]).isLessThan(4e-7);
    }
  }

  @Test
  void expOfVeryNegativeOrMinusInfinityIsZero() {
    assertThat(Vec.exp(Float.NEGATIVE_INFINITY)).isZero();
    assertThat(Vec.exp(-1000f)).isZero();
    float[] x = new float[Vec.L];
    java.util.Arrays.fill(x, Float.NEGATIVE_INFINITY);
    float[] y = new float[Vec.L];
    Vec.exp(FloatVector.fromArray(Vec.S, x, 0)).intoArray(y, 0);
    for (float f : y) assertThat(f).isZero();
    assertThat(Vec.exp(0f)).isEqualTo(1f);
  }
}
