package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.kernels.Bf16GemmConformance.Case;
import dev.weft.kernels.Bf16GemmConformance.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The behaviour every {@link Bf16Gemm} must have, run by one subclass per implementation: agreement with
 * the float64 reference on bf16-rounded inputs within the fp32-accumulation bound of
 * {@link Bf16GemmConformance}, for every transpose, odd shapes, offsets, padded leading dimensions,
 * beta 0 / 1 / 0.5 and every mix of bf16 and fp32 operands; the same bits twice; correct results for
 * concurrent callers; and bounds checks before any memory is touched.
 */
abstract class Bf16GemmContract {
  abstract Bf16Gemm gemm();

  private static final Kind[][] KINDS = {
      {Kind.BF16, Kind.BF16}, {Kind.FP32, Kind.BF16}, {Kind.BF16, Kind.FP32}, {Kind.FP32, Kind.FP32}};

  @ParameterizedTest(name = "{0} thread(s)")
  @ValueSource(ints = {1, 2})
  void matchesFloat64ReferenceOnRoundedInputsForEveryTransposeOperandKindAndOddShape(int threads) {
    Bf16Gemm g = gemm();
    try (Compute cx = new Compute(threads, new VectorGemm())) {
      long seed = 1000L * threads;
      for (int[] s : Bf16GemmConformance.SHAPES) {
        for (int t = 0; t < 4; t++) {
          for (float beta : new float[] {0f, 1f}) {
            Kind[] kinds = KINDS[(int) (seed % KINDS.length)];
            Bf16GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], beta,
                kinds[0], kinds[1], seed++);
          }
        }
      }
      // A general beta, and the last shape with every operand mix.
      for (int t = 0; t < 4; t++) {
        Bf16GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, 45, 38, 77, 0.5f, Kind.FP32, Kind.BF16, seed++);
      }
      for (Kind[] kinds : KINDS) {
        Bf16GemmConformance.check(g, cx, false, true, 70, 65, 90, 1f, kinds[0], kinds[1], seed++);
      }
    }
  }

  @Test
  void resultsThatIgnoreBf16RoundingOrTransposeAnOperandFailTheCheck() {
    // The check is only worth something if it rejects the mistakes a path could make.
    Case mixed = new Case(false, false, 64, 48, 200, 0f, Kind.FP32, Kind.FP32, 7);
    assertThat(mixed.worstViolation(mixed.exactProduct(mixed.aValues, mixed.bValues)))
        .as("product of unrounded fp32 inputs").isGreaterThan(1.0);
    Case oneSide = new Case(true, false, 30, 40, 300, 1f, Kind.BF16, Kind.FP32, 8);
    assertThat(oneSide.worstViolation(oneSide.exactProduct(oneSide.aRounded, oneSide.bValues)))
        .as("product with only B unrounded").isGreaterThan(1.0);
    Case square = new Case(false, false, 40, 40, 40, 0f, Kind.BF16, Kind.BF16, 9);
    Case swapped = new Case(false, true, 40, 40, 40, 0f, Kind.BF16, Kind.BF16, 9);
    float[] wrong = swapped.exactProduct(swapped.aRounded, swapped.bRounded);
    assertThat(square.worstViolation(java.util.Arrays.copyOf(wrong, square.c0.length)))
        .as("B read transposed").isGreaterThan(1.0);
    assertThat(square.worstViolation(square.exactProduct(square.aRounded, square.bRounded)))
        .as("the exact product of the rounded inputs").isLessThanOrEqualTo(1.0);
  }

  @Test
  void givesTheSameBitsTwice() {
    Bf16Gemm g = gemm();
    try (Compute cx = new Compute(2, new VectorGemm())) {
      for (int t = 0; t < 4; t++) {
        Case c = new Case((t & 1) != 0, (t & 2) != 0, 150, 96, 200, 1f, Kind.BF16, Kind.FP32, 40 + t);
        float[] first = c.run(g, cx), second = c.run(g, cx);
        KernelTesting.assertBitIdentical(g.name() + " " + c, first, second);
      }
    }
  }

  @Test
  void concurrentCallersFromFourThreadsGetCorrectResults() throws Exception {
    Bf16Gemm g = gemm();
    ExecutorService callers = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int r = 0; r < 4; r++) {
        int rank = r;
        done.add(callers.submit(() -> {
          try (Compute cx = new Compute(1 + rank % 2, new VectorGemm())) {
            for (int i = 0; i < 4; i++) {
              int t = (rank + i) % 4;
              Bf16GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, 96 + rank, 80 + 3 * i, 120, i % 2,
                  KINDS[i][0], KINDS[i][1], 100L * rank + i);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) f.get();
    } finally {
      callers.shutdownNow();
    }
  }

  @Test
  void zeroInnerDimensionScalesCAndBetaZeroOverwritesNaN() {
    Bf16Gemm g = gemm();
    try (Compute cx = Compute.single()) {
      float[] c = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
      g.gemm(cx, false, false, 2, 2, 0, new short[0], 0, 1, new short[0], 0, 2, 0f, c, 0, 2);
      assertThat(c).containsExactly(0f, 0f, 0f, 0f);
      float[] d = {1f, 2f, 3f, 4f};
      g.gemm(cx, false, false, 2, 2, 0, new short[0], 0, 1, new short[0], 0, 2, 0.5f, d, 0, 2);
      assertThat(d).containsExactly(0.5f, 1f, 1.5f, 2f);
    }
  }

  @Test
  void rejectsOperandsThatDoNotFitTheirArraysBeforeTouchingMemory() {
    Bf16Gemm g = gemm();
    try (Compute cx = Compute.single()) {
      short[] a = new short[6 * 4], b = new short[4 * 5];
      float[] c = new float[6 * 5];
      assertThatThrownBy(() -> g.gemm(cx, false, false, 6, 5, 4, a, 1, 4, b, 0, 5, 0f, c, 0, 5))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("A").hasMessageContaining("offset 1");
      assertThatThrownBy(() -> g.gemm(cx, false, true, 6, 5, 4, a, 0, 4, b, 0, 3, 0f, c, 0, 5))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B (transposed)")
          .hasMessageContaining("leading dimension 3");
      assertThatThrownBy(() -> g.gemm(cx, false, false, 6, 5, 4, Bf16Gemm.Operand.bf16(a, 0, 4),
          Bf16Gemm.Operand.fp32(new float[19], 0, 5), 0f, c, 0, 5))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("B");
      assertThatThrownBy(() -> g.gemm(cx, false, false, 6, 5, 4, a, 0, 4, b, 0, 5, 0f, c, 0, 6))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("C");
    }
  }
}
