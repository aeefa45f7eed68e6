package dev.weft.kernels;

import dev.weft.WeftInputException;

/**
 * A single-precision general matrix multiply, row-major, with BLAS argument conventions:
 * {@code C[m,n] = op(A)[m,k] * op(B)[k,n] + beta * C}. {@code transA} means A is stored k x m with leading
 * dimension lda (>= m), otherwise m x k (lda >= k); likewise B. Implementations parallelise over the
 * threads of the given {@link Compute}.
 *
 * <p>Linear layers use three cases: forward {@code Y = X W} (NN), input gradient {@code dX = dY W^T} (NT)
 * and weight gradient {@code dW += X^T dY} (TN, beta = 1).
 */
public interface Gemm {
  void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
            float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
            float beta, float[] c, int cOff, int ldc);

  /** Name shown in benchmarks and run summaries. */
  String name();

  /** The pure-Java default: {@link VectorGemm}. */
  static Gemm defaultGemm() {
    return new VectorGemm();
  }

  /**
   * The implementation called {@code name}: "vector" (the default, pure Java), "scalar" (reference loops),
   * "openblas" or "onednn" (native, optional). Unknown names are a {@link WeftInputException}.
   */
  static Gemm byName(String name) {
    return switch (name) {
      case "vector" -> new VectorGemm();
      case "scalar" -> new ScalarGemm();
      case "openblas" -> new BlasGemm();
      case "onednn" -> new OneDnnGemm();
      default -> throw new WeftInputException("unknown GEMM implementation \"" + name
          + "\"; valid choices are: vector (default), scalar, openblas, onednn");
    };
  }
}
