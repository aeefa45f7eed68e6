package dev.weft.kernels;

import dev.weft.WeftInputException;

/**
 * A mixed-precision matrix multiply: bf16 inputs, fp32 accumulation and fp32 output, row-major, with the
 * conventions of {@link Gemm}: {@code C[m,n] = op(A)[m,k] op(B)[k,n] + beta C}. {@code transA} means A is
 * stored k x m (lda >= m), otherwise m x k (lda >= k); likewise B. beta = 0 never reads C.
 *
 * <p>Each input is an {@link Operand}: bf16 values in a {@code short[]} (see {@link Bf16}), or fp32 values
 * in a {@code float[]} that are rounded to bf16 on the fly (for fp32 master weights or fp32 gradients
 * beside bf16 activations), so a layer never copies a tensor just to change its type. Either way the
 * product is that of the bf16-rounded inputs: each product of two bf16 numbers is exact in fp32, and only
 * the fp32 accumulation rounds.
 *
 * <p>In a linear layer {@code Y = X W} (X [N,IC], W [IC,OC], Hugging Face's input-major layout):
 * forward {@code Y = X W} (NN), input gradient {@code dX = dY W^T} (NT), weight gradient
 * {@code dW += X^T dY} (TN, beta = 1).
 *
 * <p>Implementations: {@link OneDnnBf16Gemm} (native, bf16 dot-product instructions) and
 * {@link JavaBf16Gemm} (pure Java, bf16 widened to fp32, fp32 speed). {@link #best()} picks one.
 */
public interface Bf16Gemm {
  /** One input matrix as stored: its array, the offset of its first element and its leading dimension. */
  sealed interface Operand {
    int offset();

    int ld();

    /** Length of the backing array. */
    int length();

    /** bf16 values (raw bits, see {@link dev.weft.kernels.Bf16}). */
    record Bf16Matrix(short[] data, int offset, int ld) implements Operand {
      public int length() {
        return data.length;
      }
    }

    /** fp32 values, rounded to bf16 (nearest, ties to even) as they are read. */
    record Fp32Matrix(float[] data, int offset, int ld) implements Operand {
      public int length() {
        return data.length;
      }
    }

    static Operand bf16(short[] data, int offset, int ld) {
      return new Bf16Matrix(data, offset, ld);
    }

    static Operand fp32(float[] data, int offset, int ld) {
      return new Fp32Matrix(data, offset, ld);
    }
  }

  /**
   * C = op(A) op(B) + beta C with A and B given as operands (bf16, or fp32 rounded to bf16): checks the shapes,
   * handles the empty cases (m or n = 0: nothing; k = 0: C = beta C), and leaves the rest to {@link #multiply}.
   */
  default void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                    Operand a, Operand b, float beta, float[] c, int cOff, int ldc) {
    GemmShape.check(transA, transB, m, n, k, a.offset(), a.ld(), a.length(), b.offset(), b.ld(), b.length(),
        cOff, ldc, c.length);
    if (m == 0 || n == 0) return;
    if (k == 0) {
      GemmShape.scaleC(m, n, beta, c, cOff, ldc);
      return;
    }
    multiply(cx, transA, transB, m, n, k, a, b, beta, c, cOff, ldc);
  }

  /** The product itself, on checked shapes with m, n, k all positive (called by {@link #gemm}). */
  void multiply(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                Operand a, Operand b, float beta, float[] c, int cOff, int ldc);

  /** C = op(A) op(B) + beta C with bf16 A and B: the BLAS-style signature of {@link Gemm}. */
  default void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                    short[] a, int aOff, int lda, short[] b, int bOff, int ldb,
                    float beta, float[] c, int cOff, int ldc) {
    gemm(cx, transA, transB, m, n, k, Operand.bf16(a, aOff, lda), Operand.bf16(b, bOff, ldb), beta, c, cOff, ldc);
  }

  /** Name shown in benchmarks: "onednn" or "java". */
  String name();

  /**
   * The bf16 GEMM for this machine: oneDNN when it loads and the CPU has bf16 dot-product instructions
   * (AVX512_BF16 or AMX), otherwise the pure-Java one (saying once on standard error if oneDNN failed to
   * load; a CPU without the instructions is normal and silent). See {@link #describeBest()}.
   */
  static Bf16Gemm best() {
    OneDnn.Status status = OneDnn.status();
    if (!status.loaded()) OneDnn.reportUnavailableOnce();
    return choose(status, true);
  }

  /**
   * The choice {@link #best()} makes for a given oneDNN status, as a pure function (tests pass a status
   * without bf16 or with {@code allowNative} false to force the pure-Java path).
   */
  static Bf16Gemm choose(OneDnn.Status status, boolean allowNative) {
    return allowNative && status.nativeBf16() ? new OneDnnBf16Gemm() : new JavaBf16Gemm();
  }

  /** One line for run headers: which path bf16 products take on this machine, and why. */
  static String describeBest() {
    return describe(OneDnn.status(), CpuFeatures.current());
  }

  /** {@link #describeBest()} for given facts. */
  static String describe(OneDnn.Status status, CpuFeatures cpu) {
    if (status.nativeBf16()) {
      return "bf16 GEMM: oneDNN " + status.version() + " native (" + status.isaName()
          + ", bf16 dot products, fp32 accumulation)";
    }
    String why = status.loaded()
        ? "oneDNN " + status.version() + " sees " + status.isaName() + ", no bf16 dot-product instructions"
        : "oneDNN unavailable; CPU flags: " + (cpu.bf16DotProduct() ? "bf16 dot products present" : "no bf16 dot products");
    return "bf16 GEMM: pure Java (Vector API, bf16 widened to fp32, fp32 speed): " + why;
  }

  /**
   * The implementation called {@code name}: "best" (see {@link #best()}), "onednn" (native, even where the
   * CPU would emulate bf16; fails if the library does not load) or "java". Unknown names are a
   * {@link WeftInputException}.
   */
  static Bf16Gemm byName(String name) {
    return switch (name) {
      case "best" -> best();
      case "onednn" -> new OneDnnBf16Gemm();
      case "java" -> new JavaBf16Gemm();
      default -> throw new WeftInputException("unknown bf16 GEMM implementation \"" + name
          + "\"; valid choices are: best (default: onednn where the CPU has bf16 dot products, else java), "
          + "onednn, java");
    };
  }
}
