package dev.weft.kernels;

/**
 * oneDNN's fp32 {@code dnnl_sgemm} behind the {@link Gemm} interface ({@code --matmul onednn}):
 * {@code C[m,n] = op(A) op(B) + beta C}, row-major, called on the Java arrays in place (no copies, see
 * {@link OneDnn}), on exactly the device's threads ({@link OneDnnThreading}); concurrent calls from several
 * devices run side by side. An alternative to {@link VectorGemm} and {@link BlasGemm}, at about the same
 * speed on the machines measured.
 */
public final class OneDnnGemm implements Gemm {
  private final OneDnnThreading threading;

  public OneDnnGemm() {
    this(OneDnnThreading.OPENMP);
  }

  /** Loads oneDNN if needed; throws an {@link IllegalStateException} saying why when it cannot. */
  public OneDnnGemm(OneDnnThreading threading) {
    OneDnn.requireLoaded("the \"onednn\" GEMM");
    this.threading = threading;
  }

  @Override
  public String name() {
    return threading == OneDnnThreading.OPENMP ? "onednn" : "onednn-split";
  }

  @Override
  public void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                   float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                   float beta, float[] c, int cOff, int ldc) {
    GemmShape.check(transA, transB, m, n, k, aOff, lda, a.length, bOff, ldb, b.length, cOff, ldc, c.length);
    if (m == 0 || n == 0) return;
    if (k == 0) {
      GemmShape.scaleC(m, n, beta, c, cOff, ldc);
      return;
    }
    threading.run(cx, m, n, k, p -> OneDnn.sgemm(transA, transB, p.rows(), p.cols(), k,
        a, p.aOffset(transA, aOff, lda), lda, b, p.bOffset(transB, bOff, ldb), ldb,
        beta, c, p.cOffset(cOff, ldc), ldc));
  }
}
