package dev.weft.kernels;

/**
 * The arithmetic of one GEMM's arguments that native kernels need before touching memory: how many
 * elements each operand spans in its array (rows as stored x leading dimension), the check that they fit,
 * and how to cut C into rectangles for several threads.
 *
 * <p>Stored shapes (row-major): A is m x k (k x m when transposed), B is k x n (n x k when transposed),
 * C is m x n; an operand stored r x c with leading dimension ld spans {@code (r - 1) ld + c} elements.
 */
final class GemmShape {
  private GemmShape() {}

  /** Elements spanned by a matrix stored rows x cols with leading dimension ld (0 when it is empty). */
  static long span(int rows, int cols, int ld) {
    return rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
  }

  /**
   * Throws an {@link IllegalArgumentException} naming the operand and the numbers when a matrix stored
   * rows x cols at {@code off} with leading dimension {@code ld} does not lie inside an array of
   * {@code length} elements, or ld < cols. Native code would otherwise read or write outside the array.
   */
  static void checkOperand(String name, int rows, int cols, int off, int ld, int length) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException(name + ": negative size " + rows + " x " + cols);
    }
    if (ld < Math.max(1, cols)) {
      throw new IllegalArgumentException(name + ": leading dimension " + ld + " is smaller than its row length "
          + cols + " (stored " + rows + " x " + cols + ")");
    }
    long end = (long) off + span(rows, cols, ld);
    if (off < 0 || end > length) {
      throw new IllegalArgumentException(name + ": stored " + rows + " x " + cols + " with leading dimension "
          + ld + " at offset " + off + " needs elements [" + off + ", " + end + ") but the array has " + length);
    }
  }

  /** Checks A, B and C of {@code C[m,n] = op(A) op(B) + beta C} against their arrays' lengths. */
  static void check(boolean transA, boolean transB, int m, int n, int k, int aOff, int lda, int aLength,
                    int bOff, int ldb, int bLength, int cOff, int ldc, int cLength) {
    if (m < 0 || n < 0 || k < 0) {
      throw new IllegalArgumentException("negative GEMM size m=" + m + " n=" + n + " k=" + k);
    }
    checkOperand(transA ? "A (transposed)" : "A", transA ? k : m, transA ? m : k, aOff, lda, aLength);
    checkOperand(transB ? "B (transposed)" : "B", transB ? n : k, transB ? k : n, bOff, ldb, bLength);
    checkOperand("C", m, n, cOff, ldc, cLength);
  }

  /**
   * One rectangle of C, rows [row, row + rows) x columns [col, col + cols), computed by one thread as the
   * sub-product {@code C_part = op(A)[rows, :] op(B)[:, cols] + beta C_part}.
   */
  record Part(int row, int rows, int col, int cols) {
    /** Offset of this part's first element of op(A) in A's array. */
    int aOffset(boolean transA, int aOff, int lda) {
      return transA ? aOff + row : aOff + row * lda;
    }

    int bOffset(boolean transB, int bOff, int ldb) {
      return transB ? bOff + col * ldb : bOff + col;
    }

    int cOffset(int cOff, int ldc) {
      return cOff + row * ldc + col;
    }
  }

  /**
   * Cuts C into {@code parts} rectangles of nearly equal size along its longer side: cutting rows makes each
   * thread read all of B, cutting columns all of A, so the longer side duplicates the smaller operand.
   * Cuts fall on multiples of {@code align} where the side is long enough; empty parts are dropped.
   */
  static Part[] split(int m, int n, int parts, int align) {
    boolean byRows = m >= n;
    int side = byRows ? m : n;
    int count = Math.max(1, Math.min(parts, side));
    int[] cuts = new int[count + 1];
    for (int p = 1; p < count; p++) {
      int cut = (int) ((long) side * p / count);
      int aligned = Math.round((float) cut / align) * align;
      cuts[p] = side >= count * align * 2 ? aligned : cut;
    }
    cuts[count] = side;
    java.util.List<Part> out = new java.util.ArrayList<>(count);
    for (int p = 0; p < count; p++) {
      int from = cuts[p], len = cuts[p + 1] - from;
      if (len <= 0) continue;
      out.add(byRows ? new Part(from, len, 0, n) : new Part(0, m, from, len));
    }
    return out.toArray(new Part[0]);
  }

  /** C = beta C, the whole product when k = 0; beta = 0 writes zeros without reading C. */
  static void scaleC(int m, int n, float beta, float[] c, int cOff, int ldc) {
    if (beta == 1f) return;
    for (int i = 0; i < m; i++) {
      int o = cOff + i * ldc;
      if (beta == 0f) java.util.Arrays.fill(c, o, o + n, 0f);
      else for (int j = 0; j < n; j++) c[o + j] *= beta;
    }
  }
}
