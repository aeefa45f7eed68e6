package dev.weft.model;

import java.util.Arrays;

/**
 * Which part of a full (checkpoint-shaped) parameter one tensor-parallel rank holds, as {@link TpSplit}
 * computes it: along dimension {@code dim} (0 = rows, 1 = columns of a 2-D tensor; 0 for a 1-D one) the
 * ranges [starts[b], starts[b] + widths[b]) of the full tensor, laid end to end in the local tensor, whose
 * extent along {@code dim} is {@code extent} (>= the sum of the widths; the rest is zero padding: the
 * vocabulary's). {@code dim = -1} means replicated: local = full.
 */
public record TpSlice(int dim, int[] starts, int[] widths, int extent) {
  public static final TpSlice REPLICATED = new TpSlice(-1, new int[0], new int[0], 0);

  public boolean replicated() {
    return dim < 0;
  }

  /** The local shape for a tensor of {@code fullShape}. */
  public int[] localShape(int[] fullShape) {
    if (replicated()) return fullShape.clone();
    int[] s = fullShape.clone();
    s[dim] = extent;
    return s;
  }

  /** Copies this rank's part of {@code full} (shape {@code fullShape}) into {@code local} at {@code off}. */
  public void extract(float[] full, int fullOff, int[] fullShape, float[] local, int off, int[] localShape) {
    copy(full, fullOff, fullShape, local, off, true);
  }

  /** Writes this rank's {@code local} part into its place in {@code full} (padding is dropped). */
  public void insert(float[] local, int off, int[] localShape, float[] full, int fullOff, int[] fullShape) {
    copy(full, fullOff, fullShape, local, off, false);
  }

  private void copy(float[] full, int fullOff, int[] fullShape, float[] local, int off, boolean toLocal) {
    if (replicated()) {
      int n = size(fullShape);
      if (toLocal) System.arraycopy(full, fullOff, local, off, n);
      else System.arraycopy(local, off, full, fullOff, n);
      return;
    }
    if (dim == 0) {
      int width = 1;
      for (int i = 1; i < fullShape.length; i++) width *= fullShape[i];
      int row = 0;
      for (int b = 0; b < starts.length; b++) {
        int src = fullOff + starts[b] * width, dst = off + row * width, n = widths[b] * width;
        if (toLocal) System.arraycopy(full, src, local, dst, n);
        else System.arraycopy(local, dst, full, src, n);
        row += widths[b];
      }
      if (toLocal) Arrays.fill(local, off + row * width, off + extent * width, 0f);
      return;
    }
    int rows = fullShape[0];
    int fullWidth = fullShape[1];
    for (int r = 0; r < rows; r++) {
      int col = 0;
      for (int b = 0; b < starts.length; b++) {
        int src = fullOff + r * fullWidth + starts[b], dst = off + r * extent + col;
        if (toLocal) System.arraycopy(full, src, local, dst, widths[b]);
        else System.arraycopy(local, dst, full, src, widths[b]);
        col += widths[b];
      }
    }
  }

  static int size(int[] shape) {
    int n = 1;
    for (int d : shape) n *= d;
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TpSlice s && s.dim == dim && s.extent == extent && Arrays.equals(s.starts, starts)
        && Arrays.equals(s.widths, widths);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(starts) * 31 + Arrays.hashCode(widths) + dim + extent;
  }

  @Override
  public String toString() {
    return replicated() ? "replicated" : "dim " + dim + " starts " + Arrays.toString(starts) + " widths "
        + Arrays.toString(widths) + " extent " + extent;
  }
}
