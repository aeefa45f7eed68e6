package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ComputeTest {
  @Test
  void parallelForVisitsEveryIndexExactlyOnce() {
    try (Compute cx = new Compute(3, new ScalarGemm())) {
      for (int n : new int[] {0, 1, 7, 100, 1001}) {
        AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(n, 1));
        cx.parallelFor(n, 3, (from, to) -> {
          for (int i = from; i < to; i++) seen.incrementAndGet(i);
        });
        for (int i = 0; i < n; i++) assertThat(seen.get(i)).as("index %d of %d", i, n).isEqualTo(1);
      }
    }
  }

  @Test
  void nestedParallelForDoesNotDeadlock() {
    try (Compute cx = new Compute(2, new ScalarGemm())) {
      AtomicIntegerArray seen = new AtomicIntegerArray(64 * 64);
      cx.parallelFor(64, 1, (f, t) -> {
        for (int i = f; i < t; i++) {
          int row = i;
          cx.parallelFor(64, 1, (f2, t2) -> {
            for (int j = f2; j < t2; j++) seen.incrementAndGet(row * 64 + j);
          });
        }
      });
      for (int i = 0; i < 64 * 64; i++) assertThat(seen.get(i)).isEqualTo(1);
    }
  }

  @Test
  void failureInAChunkIsRethrownToTheCaller() {
    try (Compute cx = new Compute(2, new ScalarGemm())) {
      assertThatThrownBy(() -> cx.parallelFor(100, 1, (f, t) -> {
        if (f <= 50 && 50 < t) throw new IllegalStateException("boom");
      })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
    }
  }
}
