package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weft.kernels.Bf16GemmConformance.Kind;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The native bf16 GEMM against the same contract. On a CPU without bf16 instructions oneDNN runs its
 * reference loops (slow, but the same calling conventions), so the contract still checks Weft's side of
 * the binding: transposes, offsets, leading dimensions, beta and the fp32-to-bf16 packing.
 */
class OneDnnBf16GemmTest extends Bf16GemmContract {
  @BeforeAll
  static void needsTheLibrary() {
    assumeTrue(OneDnn.available(), () -> "oneDNN did not load: " + OneDnn.status().failure());
  }

  @Override
  Bf16Gemm gemm() {
    return new OneDnnBf16Gemm();
  }

  @Test
  void splitThreadingMatchesTheReferenceToo() {
    Bf16Gemm g = new OneDnnBf16Gemm(OneDnnThreading.SPLIT);
    assertThat(g.name()).isEqualTo("onednn-split");
    try (Compute cx = new Compute(2, new VectorGemm())) {
      for (int t = 0; t < 4; t++) {
        Bf16GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, 70, 65, 90, t % 2, Kind.BF16, Kind.FP32,
            300 + t);
      }
      Bf16GemmConformance.check(g, cx, false, false, 200, 100, 80, 0f, Kind.BF16, Kind.BF16, 5);
      assertThat(OneDnn.callerThreads()).as("the split path keeps OpenMP single-threaded").isEqualTo(1);
    }
  }

  @Test
  void eachCallRunsOnItsDeviceThreadCount() {
    Bf16Gemm g = new OneDnnBf16Gemm();
    assertThat(g.name()).isEqualTo("onednn");
    for (int threads : new int[] {2, 1}) {
      try (Compute cx = new Compute(threads, new VectorGemm())) {
        for (int t = 0; t < 4; t++) {
          Bf16GemmConformance.check(g, cx, (t & 1) != 0, (t & 2) != 0, 70, 65, 90, t % 2, Kind.BF16, Kind.FP32,
              400 + t);
        }
        assertThat(OneDnn.callerThreads()).isEqualTo(threads);
      }
    }
  }
}
