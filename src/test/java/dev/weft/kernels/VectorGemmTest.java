package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class VectorGemmTest {
  private final Gemm gemm = new VectorGemm();

  @ParameterizedTest(name = "{0} thread(s)")
  @ValueSource(ints = {1, 2})
  void matchesScalarReferenceForEveryTransposeBetaOffsetAndOddShape(int threads) {
    try (Compute cx = new Compute(threads, gemm)) {
      long seed = 1;
      for (int[] s : GemmConformance.SHAPES) {
        for (int t = 0; t < 4; t++) {
          for (float beta : new float[] {0f, 1f, 0.5f}) {
            GemmConformance.check(gemm, cx, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], beta, seed++);
          }
        }
      }
    }
  }

  @Test
  void smallerTuningBlocksStillMatchTheReference() {
    // Exercise many k, m and n blocks (and N-splitting) with small cache blocks and every micro-kernel.
    int[][] tiles = {{8, 2}, {12, 2}, {6, 3}, {4, 4}};
    long seed = 100;
    for (int[] tile : tiles) {
      Gemm g = new VectorGemm(tile[0], tile[1], 37, 3 * tile[0], 2 * tile[1] * VectorGemm.L);
      for (int threads : new int[] {1, 2}) {
        try (Compute cx = new Compute(threads, g)) {
          for (int t = 0; t < 4; t++) {
            GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, 71, 133, 90, t == 0 ? 0f : 1f, seed++);
            GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, 9, 200, 41, 0.5f, seed++);
          }
        }
      }
    }
  }

  @Test
  void zeroInnerDimensionScalesCAndBetaZeroOverwritesNaN() {
    try (Compute cx = Compute.single()) {
      float[] c = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
      gemm.gemm(cx, false, false, 2, 2, 0, new float[0], 0, 1, new float[0], 0, 2, 0f, c, 0, 2);
      assertThat(c).containsExactly(0f, 0f, 0f, 0f);
      float[] d = {1f, 2f, 3f, 4f};
      gemm.gemm(cx, false, false, 2, 2, 0, new float[0], 0, 1, new float[0], 0, 2, 0.5f, d, 0, 2);
      assertThat(d).containsExactly(0.5f, 1f, 1.5f, 2f);
    }
  }

  @Test
  void concurrentCallsFromTwoDevicesDoNotShareBuffers() throws Exception {
    try (Compute cx1 = new Compute(1, gemm); Compute cx2 = new Compute(2, gemm)) {
      CompletableFuture<Void> f1 = CompletableFuture.runAsync(() -> {
        for (int i = 0; i < 5; i++) GemmConformance.check(gemm, cx1, false, true, 150, 170, 300, 0f, 7 + i);
      });
      CompletableFuture<Void> f2 = CompletableFuture.runAsync(() -> {
        for (int i = 0; i < 5; i++) GemmConformance.check(gemm, cx2, true, false, 170, 150, 290, 1f, 70 + i);
      });
      f1.get();
      f2.get();
    }
  }

  @Test
  void defaultIsVectorAndNamesSelectImplementations() {
    assertThat(Gemm.defaultGemm()).isInstanceOf(VectorGemm.class);
    assertThat(Gemm.byName("vector")).isInstanceOf(VectorGemm.class);
    assertThat(Gemm.byName("scalar")).isInstanceOf(ScalarGemm.class);
    assertThat(Arrays.asList("vector", "scalar")).allMatch(n -> Gemm.byName(n).name().equals(n));
    assertThatThrownBy(() -> Gemm.byName("cublas"))
        .isInstanceOf(WeftInputException.class)
        .hasMessageContaining("cublas")
        .hasMessageContaining("vector").hasMessageContaining("scalar").hasMessageContaining("openblas");
  }
}
