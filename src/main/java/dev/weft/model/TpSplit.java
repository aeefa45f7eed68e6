package dev.weft.model;

import dev.weft.WeftInputException;
import java.util.Arrays;

/**
 * How tensor parallelism of degree t cuts one parameter, as its model family declares it; applying it for
 * rank i of t gives the rank's {@link TpSlice}. Three kinds:
 * <ul>
 *   <li>{@link Replicated}: every rank holds the whole tensor (norms, position embeddings, the biases of
 *       row-parallel layers).
 *   <li>{@link Blocks}: dimension {@code dim} is made of consecutive blocks (one block, or e.g. the q|k|v
 *       parts of a fused projection); each block is cut into t equal parts and rank i keeps part i of every
 *       block, in block order. Column-parallel weights cut their output dimension, row-parallel weights
 *       their input dimension.
 *   <li>{@link Vocab}: rows (the vocabulary) padded to Vp = t ceil(V / t) and cut into t equal parts; the
 *       padding rows are zero locally and absent from the full tensor (their logits are masked).
 * </ul>
 */
public sealed interface TpSplit {
  /** Every rank holds the whole tensor. */
  record Replicated() implements TpSplit {}

  /** Each of the consecutive {@code blocks} of dimension {@code dim} cut into t equal parts. */
  record Blocks(int dim, int[] blocks) implements TpSplit {
    @Override
    public boolean equals(Object o) {
      return o instanceof Blocks b && b.dim == dim && Arrays.equals(b.blocks, blocks);
    }

    @Override
    public int hashCode() {
      return 31 * dim + Arrays.hashCode(blocks);
    }

    @Override
    public String toString() {
      return "Blocks[dim=" + dim + ", blocks=" + Arrays.toString(blocks) + "]";
    }
  }

  /** Rows padded to a multiple of t and cut into t parts. */
  record Vocab() implements TpSplit {}

  TpSplit REPLICATED = new Replicated();
  TpSplit VOCAB = new Vocab();

  /** Dimension {@code dim} cut into t parts, block by block ({@code blocks} sum to the dimension). */
  static TpSplit dim(int dim, int... blocks) {
    return new Blocks(dim, blocks.clone());
  }

  /**
   * This split applied to a tensor of {@code fullShape} named {@code name} for rank {@code rank} of {@code t}.
   * A block that t does not divide is bad input, named with the parameter.
   */
  default TpSlice apply(String name, int[] fullShape, int t, int rank) {
    if (t == 1) return TpSlice.REPLICATED;
    return switch (this) {
      case Replicated r -> TpSlice.REPLICATED;
      case Vocab v -> {
        int rows = fullShape[0];
        int local = (rows + t - 1) / t;
        int start = rank * local;
        int width = Math.max(0, Math.min(local, rows - start));
        yield new TpSlice(0, new int[] {Math.min(start, rows)}, new int[] {width}, local);
      }
      case Blocks b -> {
        int[] starts = new int[b.blocks().length];
        int[] widths = new int[b.blocks().length];
        int at = 0;
        int local = 0;
        for (int i = 0; i < b.blocks().length; i++) {
          int size = b.blocks()[i];
          if (size % t != 0) {
            throw new WeftInputException("--tp " + t + " does not divide " + name + " (" + size + " of its "
                + fullShape[b.dim()] + " along dimension " + b.dim() + "); choose a --tp that divides it.");
          }
          widths[i] = size / t;
          starts[i] = at + rank * widths[i];
          at += size;
          local += widths[i];
        }
        if (at != fullShape[b.dim()]) {
          throw new IllegalStateException(name + ": split blocks " + Arrays.toString(b.blocks()) + " do not add up to "
              + "dimension " + b.dim() + " of " + Arrays.toString(fullShape));
        }
        yield new TpSlice(b.dim(), starts, widths, local);
      }
    };
  }
}
