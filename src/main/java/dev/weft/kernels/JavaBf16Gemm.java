package dev.weft.kernels;

/**
 * The pure-Java bf16 GEMM, for machines without oneDNN or without bf16 dot-product instructions, and the
 * reference the native one is held against: {@code C[m,n] = op(A) op(B) + beta C}, bf16 inputs (or fp32
 * inputs rounded to bf16), fp32 accumulation, fp32 C.
 *
 * <p>The Vector API has no bf16 dot product, so the inputs are widened: the region of each operand the
 * product reads is converted to fp32 (exact for bf16; fp32 inputs are rounded to bf16 precision on the
 * way, {@link Bf16#round}) into scratch arrays of the calling thread, in parallel over the device's
 * threads, and {@link VectorGemm} multiplies them. It runs at fp32 speed (the conversion is one pass over
 * A and B, small beside the 2 m n k flops); what bf16 saves on this path is memory.
 *
 * <p>The scratch arrays are reused across calls and grow to the largest operands seen (fp32, so twice the
 * bf16 size). Concurrent calls from different threads are safe: each thread has its own.
 */
public final class JavaBf16Gemm implements Bf16Gemm {
  private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][]);
  /** Elements converted per parallel chunk. */
  private static final int GRAIN = 1 << 14;

  private final Gemm fp32 = new VectorGemm();

  @Override
  public String name() {
    return "java";
  }

  @Override
  public void multiply(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                       Operand a, Operand b, float beta, float[] c, int cOff, int ldc) {
    float[][] scratch = SCRATCH.get();
    int aRows = transA ? k : m, aCols = transA ? m : k;
    int bRows = transB ? n : k, bCols = transB ? k : n;
    float[] aw = widen(cx, a, aRows, aCols, scratch, 0);
    float[] bw = widen(cx, b, bRows, bCols, scratch, 1);
    fp32.gemm(cx, transA, transB, m, n, k, aw, 0, aCols, bw, 0, bCols, beta, c, cOff, ldc);
  }

  /** The operand's stored rows x cols region as fp32 with bf16 values, packed (leading dimension cols). */
  private static float[] widen(Compute cx, Operand x, int rows, int cols, float[][] scratch, int slot) {
    int size = rows * cols;
    if (scratch[slot] == null || scratch[slot].length < size) scratch[slot] = new float[size];
    float[] dst = scratch[slot];
    int off = x.offset(), ld = x.ld();
    RowConverter convert = switch (x) {
      case Operand.Bf16Matrix h -> (s, d, len) -> Bf16.toFloat(h.data(), s, dst, d, len);
      case Operand.Fp32Matrix f -> (s, d, len) -> Bf16.round(f.data(), s, dst, d, len);
    };
    if (ld == cols) {
      cx.parallelFor(size, GRAIN, (from, to) -> convert.run(off + from, from, to - from));
    } else {
      cx.parallelFor(rows, Math.max(1, GRAIN / Math.max(1, cols)), (from, to) -> {
        for (int r = from; r < to; r++) convert.run(off + r * ld, r * cols, cols);
      });
    }
    return dst;
  }

  /** Converts {@code len} values from source index {@code src} to destination index {@code dst}. */
  @FunctionalInterface
  private interface RowConverter {
    void run(int src, int dst, int len);
  }
}
