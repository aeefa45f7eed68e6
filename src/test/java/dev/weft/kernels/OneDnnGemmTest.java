package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class OneDnnGemmTest {
  @BeforeAll
  static void needsTheLibrary() {
    assumeTrue(OneDnn.available(), () -> "oneDNN did not load: " + OneDnn.status().failure());
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(OneDnnThreading.class)
  void matchesScalarReferenceForEveryTransposeBetaOffsetAndOddShape(OneDnnThreading threading) {
    Gemm gemm = new OneDnnGemm(threading);
    int[] threadCounts = threading == OneDnnThreading.SPLIT ? new int[] {2} : new int[] {1, 2};
    for (int threads : threadCounts) {
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
  }

  @Test
  void isRegisteredAsOnednnAndDevicesWithDifferentThreadCountsRunConcurrently() throws Exception {
    Gemm gemm = Gemm.byName("onednn");
    assertThat(gemm.name()).isEqualTo("onednn");
    Gemm omp = new OneDnnGemm();
    try (Compute cx1 = new Compute(1, omp); Compute cx2 = new Compute(2, omp)) {
      CompletableFuture<Integer> f1 = CompletableFuture.supplyAsync(() -> {
        for (int i = 0; i < 5; i++) GemmConformance.check(omp, cx1, false, true, 150, 170, 300, 0f, 7 + i);
        return OneDnn.callerThreads();
      });
      CompletableFuture<Integer> f2 = CompletableFuture.supplyAsync(() -> {
        for (int i = 0; i < 5; i++) GemmConformance.check(omp, cx2, true, false, 170, 150, 290, 1f, 70 + i);
        return OneDnn.callerThreads();
      });
      assertThat(f1.get()).as("OpenMP threads of the 1-thread device's caller").isEqualTo(1);
      assertThat(f2.get()).as("OpenMP threads of the 2-thread device's caller").isEqualTo(2);
    }
  }
}
