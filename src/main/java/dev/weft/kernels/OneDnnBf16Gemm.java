package dev.weft.kernels;

/**
 * The native bf16 GEMM: oneDNN's {@code dnnl_gemm_bf16bf16f32} called on the Java arrays in place
 * ({@link OneDnn}), {@code C[m,n] = op(A) op(B) + beta C} with bf16 A and B, fp32 accumulation and fp32 C.
 * On a CPU with AVX512_BF16 it multiplies with {@code VDPBF16PS} (about twice the fp32 rate); on older
 * CPUs oneDNN emulates bf16 (avx512_core) or falls back to slow reference loops, so {@link Bf16Gemm#best()}
 * only picks this class where the instructions exist.
 *
 * <p>fp32 operands are rounded to bf16 into a scratch array of the calling thread (reused across calls,
 * grown to the largest operand seen), in parallel over the device's threads; only the region the product
 * reads is converted. Threads: {@link OneDnnThreading}. Concurrent calls from different threads are safe
 * (no shared mutable state beyond oneDNN's own thread-safe caches).
 */
public final class OneDnnBf16Gemm implements Bf16Gemm {
  private static final ThreadLocal<short[][]> SCRATCH = ThreadLocal.withInitial(() -> new short[2][]);

  private final OneDnnThreading threading;

  public OneDnnBf16Gemm() {
    this(OneDnnThreading.OPENMP);
  }

  /** Loads oneDNN if needed; throws an {@link IllegalStateException} saying why when it cannot. */
  public OneDnnBf16Gemm(OneDnnThreading threading) {
    OneDnn.requireLoaded("the \"onednn\" bf16 GEMM");
    this.threading = threading;
  }

  @Override
  public String name() {
    return threading == OneDnnThreading.OPENMP ? "onednn" : "onednn-split";
  }

  @Override
  public void multiply(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                       Operand a, Operand b, float beta, float[] c, int cOff, int ldc) {
    short[][] scratch = SCRATCH.get();
    Operand.Bf16Matrix a16 = asBf16(cx, a, transA ? k : m, transA ? m : k, scratch, 0);
    Operand.Bf16Matrix b16 = asBf16(cx, b, transB ? n : k, transB ? k : n, scratch, 1);
    threading.run(cx, m, n, k, p -> OneDnn.gemmBf16(transA, transB, p.rows(), p.cols(), k,
        a16.data(), p.aOffset(transA, a16.offset(), a16.ld()), a16.ld(),
        b16.data(), p.bOffset(transB, b16.offset(), b16.ld()), b16.ld(),
        beta, c, p.cOffset(cOff, ldc), ldc));
  }

  /**
   * The operand as bf16: itself, or its stored rows x cols region rounded into scratch[slot] (packed,
   * leading dimension cols).
   */
  static Operand.Bf16Matrix asBf16(Compute cx, Operand x, int rows, int cols, short[][] scratch, int slot) {
    return switch (x) {
      case Operand.Bf16Matrix h -> h;
      case Operand.Fp32Matrix f -> {
        int size = rows * cols;
        if (scratch[slot] == null || scratch[slot].length < size) scratch[slot] = new short[size];
        short[] dst = scratch[slot];
        float[] src = f.data();
        int off = f.offset(), ld = f.ld();
        if (ld == cols) {
          cx.parallelFor(size, 1 << 14, (from, to) -> Bf16.fromFloat(src, off + from, dst, from, to - from));
        } else {
          cx.parallelFor(rows, Math.max(1, (1 << 14) / Math.max(1, cols)), (from, to) -> {
            for (int r = from; r < to; r++) Bf16.fromFloat(src, off + r * ld, dst, r * cols, cols);
          });
        }
        yield new Operand.Bf16Matrix(dst, 0, Math.max(1, cols));
      }
    };
  }
}
