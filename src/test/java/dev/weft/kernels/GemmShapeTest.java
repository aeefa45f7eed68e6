package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class GemmShapeTest {
  @Test
  void splitCoversEveryElementOfCExactlyOnceAlongTheLongerSide() {
    Random rnd = new Random(4);
    for (int trial = 0; trial < 500; trial++) {
      int m = 1 + rnd.nextInt(300), n = 1 + rnd.nextInt(300), parts = 1 + rnd.nextInt(5);
      GemmShape.Part[] split = GemmShape.split(m, n, parts, 16);
      assertThat(split.length).isBetween(1, parts);
      int[] count = new int[m * n];
      for (GemmShape.Part p : split) {
        assertThat(p.rows() == m || p.cols() == n).isTrue();
        if (m >= n) assertThat(p.cols()).isEqualTo(n);
        else assertThat(p.rows()).isEqualTo(m);
        for (int i = p.row(); i < p.row() + p.rows(); i++) {
          for (int j = p.col(); j < p.col() + p.cols(); j++) count[i * n + j]++;
        }
      }
      long wrong = java.util.Arrays.stream(count).filter(x -> x != 1).count();
      assertThat(wrong).as("elements of a %d x %d C covered other than once by %d parts", m, n, parts).isZero();
    }
  }

  @Test
  void partOffsetsPointAtTheFirstElementOfEachOperand() {
    GemmShape.Part p = new GemmShape.Part(3, 4, 5, 6);
    assertThat(p.aOffset(false, 10, 20)).isEqualTo(10 + 3 * 20);
    assertThat(p.aOffset(true, 10, 20)).isEqualTo(10 + 3);
    assertThat(p.bOffset(false, 7, 30)).isEqualTo(7 + 5);
    assertThat(p.bOffset(true, 7, 30)).isEqualTo(7 + 5 * 30);
    assertThat(p.cOffset(1, 40)).isEqualTo(1 + 3 * 40 + 5);
  }
}
