package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.randn;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Timing note (prints, asserts nothing): blockwise forward+backward vs the plain {@link Attention} kernel,
 * default gemm, all compute threads of this machine (capped at 2). Median of 3 runs after one warm-up; the machine is shared, so expect noise.
 */
class BlockAttentionPerfTest {
  @Test
  void timeBlockwiseAgainstPlain() {
    int threads = Math.min(2, Runtime.getRuntime().availableProcessors());
    try (Compute cx = new Compute(threads, Gemm.defaultGemm())) {
      for (int[] s : new int[][] {{8, 256}, {1, 1024}, {1, 2048}}) {
        int B = s[0], T = s[1], C = 384, NH = 6;
        Random rnd = new Random(90);
        float[] qkv = randn(rnd, B * T * 3 * C, 1.0), dout = randn(rnd, B * T * C, 1.0);
        float[] out = new float[B * T * C], d = new float[qkv.length];
        float[] att = new float[B * NH * T * T], lse = new float[B * NH * T];
        int reps = 3;
        double[] plainF = new double[reps], plainB = new double[reps], blockF = new double[reps], blockB = new double[reps];
        for (int warm = 0; warm < 1; warm++) {
          Attention.forward(cx, out, att, qkv, B, T, C, NH);
          Attention.backward(cx, d, dout, qkv, att, B, T, C, NH);
          BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH);
          BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, C, NH);
        }
        for (int r = 0; r < reps; r++) {
          long t0 = System.nanoTime();
          Attention.forward(cx, out, att, qkv, B, T, C, NH);
          long t1 = System.nanoTime();
          Attention.backward(cx, d, dout, qkv, att, B, T, C, NH);
          long t2 = System.nanoTime();
          BlockAttention.forward(cx, out, lse, qkv, B, T, C, NH);
          long t3 = System.nanoTime();
          BlockAttention.backward(cx, d, dout, qkv, out, lse, B, T, C, NH);
          long t4 = System.nanoTime();
          plainF[r] = (t1 - t0) / 1e6;
          plainB[r] = (t2 - t1) / 1e6;
          blockF[r] = (t3 - t2) / 1e6;
          blockB[r] = (t4 - t3) / 1e6;
        }
        System.out.printf("B=%d T=%d C=%d NH=%d threads=%d gemm=%s: plain fwd %.1f ms bwd %.1f ms (att %d MiB) | "
                + "blockwise fwd %.1f ms bwd %.1f ms (lse %d KiB)%n", B, T, C, NH, threads, cx.gemmImpl().name(),
            median(plainF), median(plainB), (long) att.length * 4 >> 20, median(blockF), median(blockB),
            (long) lse.length * 4 >> 10);
      }
    }
  }

  private static double median(double[] a) {
    double[] c = a.clone();
    java.util.Arrays.sort(c);
    return c[c.length / 2];
  }
}
