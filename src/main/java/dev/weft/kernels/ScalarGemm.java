package dev.weft.kernels;

/**
 * Reference GEMM: plain loops in the i-k-j order (so the innermost loop streams rows of B and C),
 * parallel over rows of C. Correct for every transpose case; the baseline other kernels are tested
 * against.
 */
public final class ScalarGemm implements Gemm {
  @Override
  public void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                   float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                   float beta, float[] c, int cOff, int ldc) {
    cx.parallelFor(m, 8, (from, to) -> {
      for (int i = from; i < to; i++) {
        int ci = cOff + i * ldc;
        if (beta == 0f) {
          for (int j = 0; j < n; j++) c[ci + j] = 0f;
        } else if (beta != 1f) {
          for (int j = 0; j < n; j++) c[ci + j] *= beta;
        }
        for (int p = 0; p < k; p++) {
          float aip = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
          if (aip == 0f) continue;
          if (!transB) {
            int bp = bOff + p * ldb;
            for (int j = 0; j < n; j++) c[ci + j] += aip * b[bp + j];
          } else {
            for (int j = 0; j < n; j++) c[ci + j] += aip * b[bOff + j * ldb + p];
          }
        }
      }
    });
  }

  @Override
  public String name() {
    return "scalar";
  }
}
