package dev.weft.model;

/**
 * How a tensor-parallel rank's local parameter maps into the full (Hugging Face shaped) tensor.
 * <ul>
 *   <li>{@code REPLICATED}: local = full (LayerNorms, position embedding, biases of row-parallel layers).
 *   <li>{@code ROWS}: local rows [rowStart, rowStart + localRows) of a 2-D [R, X] tensor; rows at or past R
 *       are padding, zero in the local tensor and absent from the full one (vocabulary padding of wte,
 *       row-parallel weights).
 *   <li>{@code COLUMNS}: local = the concatenation of column blocks (start, width) of a [R, X] tensor, or of
 *       index blocks of a 1-D [X] tensor (column-parallel weights and their biases; c_attn takes one block
 *       of q, one of k and one of v, so that a rank holds whole heads of each).
 * </ul>
 */
public record TpSlice(Kind kind, int rowStart, int[] blockStarts, int blockWidth) {
  public enum Kind { REPLICATED, ROWS, COLUMNS }

  public static final TpSlice REPLICATED = new TpSlice(Kind.REPLICATED, 0, new int[0], 0);

  public static TpSlice rows(int rowStart) {
    return new TpSlice(Kind.ROWS, rowStart, new int[0], 0);
  }

  public static TpSlice columns(int width, int... starts) {
    return new TpSlice(Kind.COLUMNS, 0, starts, width);
  }

  public boolean replicated() {
    return kind == Kind.REPLICATED;
  }

  /** Copies this rank's part of {@code full} (shape {@code fullShape}) into {@code local} at {@code off}. */
  public void extract(float[] full, int fullOff, int[] fullShape, float[] local, int off, int[] localShape) {
    switch (kind) {
      case REPLICATED -> System.arraycopy(full, fullOff, local, off, size(localShape));
      case ROWS -> {
        int rows = fullShape[0];
        int width = fullShape.length > 1 ? fullShape[1] : 1;
        for (int r = 0; r < localShape[0]; r++) {
          int src = rowStart + r;
          if (src < rows) {
            System.arraycopy(full, fullOff + src * width, local, off + r * width, width);
          } else {
            java.util.Arrays.fill(local, off + r * width, off + (r + 1) * width, 0f);
          }
        }
      }
      case COLUMNS -> {
        int rows = fullShape.length > 1 ? fullShape[0] : 1;
        int fullWidth = fullShape.length > 1 ? fullShape[1] : fullShape[0];
        int localWidth = blockWidth * blockStarts.length;
        for (int r = 0; r < rows; r++) {
          for (int b = 0; b < blockStarts.length; b++) {
            System.arraycopy(full, fullOff + r * fullWidth + blockStarts[b], local, off + r * localWidth + b * blockWidth,
                blockWidth);
          }
        }
      }
    }
  }

  /** Writes this rank's {@code local} part into its place in {@code full} (padding rows are dropped). */
  public void insert(float[] local, int off, int[] localShape, float[] full, int fullOff, int[] fullShape) {
    switch (kind) {
      case REPLICATED -> System.arraycopy(local, off, full, fullOff, size(localShape));
      case ROWS -> {
        int rows = fullShape[0];
        int width = fullShape.length > 1 ? fullShape[1] : 1;
        for (int r = 0; r < localShape[0] && rowStart + r < rows; r++) {
          System.arraycopy(local, off + r * width, full, fullOff + (rowStart + r) * width, width);
        }
      }
      case COLUMNS -> {
        int rows = fullShape.length > 1 ? fullShape[0] : 1;
        int fullWidth = fullShape.length > 1 ? fullShape[1] : fullShape[0];
        int localWidth = blockWidth * blockStarts.length;
        for (int r = 0; r < rows; r++) {
          for (int b = 0; b < blockStarts.length; b++) {
            System.arraycopy(local, off + r * localWidth + b * blockWidth, full, fullOff + r * fullWidth + blockStarts[b],
                blockWidth);
          }
        }
      }
    }
  }

  static int size(int[] shape) {
    int n = 1;
    for (int d : shape) n *= d;
    return n;
  }
}
