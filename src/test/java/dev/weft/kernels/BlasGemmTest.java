package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class BlasGemmTest {
  @ParameterizedTest(name = "{0} thread(s)")
  @ValueSource(ints = {1, 2})
  void matchesScalarReferenceForEveryTransposeBetaOffsetAndOddShape(int threads) {
    Gemm gemm = new BlasGemm();
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
  void arrayDataPathHonoursOffsetsToo() {
    Gemm gemm = new BlasGemm(BlasGemm.DataPath.ARRAYS);
    try (Compute cx = Compute.single()) {
      long seed = 500;
      for (int t = 0; t < 4; t++) {
        GemmConformance.check(gemm, cx, (t & 1) != 0, (t & 2) != 0, 33, 70, 41, 0f, seed++);
        GemmConformance.check(gemm, cx, (t & 1) != 0, (t & 2) != 0, 17, 5, 300, 1f, seed++);
      }
    }
  }

  @Test
  void usesExactlyTheDeviceThreadCount() {
    Gemm gemm = Gemm.byName("openblas");
    assertThat(gemm.name()).isEqualTo("openblas");
    for (int threads : new int[] {2, 1, 2}) {
      try (Compute cx = new Compute(threads, gemm)) {
        GemmConformance.check(gemm, cx, false, false, 64, 64, 64, 0f, threads);
        assertThat(BlasGemm.nativeThreads()).isEqualTo(threads);
      }
    }
  }
}
