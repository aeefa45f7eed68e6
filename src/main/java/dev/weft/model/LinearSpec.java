package dev.weft.model;

import dev.weft.kernels.WeightLayout;
import java.util.List;

/**
 * A linear layer of a block, {@code Y [N, out] = X [N, in] op(W) + b}: the names of its weights (one fused
 * weight, or several stored back to back that together form W: q|k|v or gate|up, which needs
 * {@link WeightLayout#OUT_IN} so that stacking rows makes one matrix), of its biases (none, one, or one per
 * weight), the weights' storage layout and the full feature counts. Whether it is column- or row-parallel
 * is its role's ({@link BlockSpec}): the families declare each weight's {@link TpSplit} to match.
 */
public record LinearSpec(List<String> weights, List<String> biases, WeightLayout layout, int in, int out) {
  public LinearSpec {
    weights = List.copyOf(weights);
    biases = List.copyOf(biases);
    if (weights.isEmpty()) throw new IllegalArgumentException("a linear layer needs a weight");
    if (weights.size() > 1 && layout != WeightLayout.OUT_IN) {
      throw new IllegalArgumentException("several weights fuse into one matrix only when stored [out, in]");
    }
    if (!biases.isEmpty() && biases.size() != weights.size()) {
      throw new IllegalArgumentException("biases must be absent or one per weight");
    }
  }

  public boolean hasBias() {
    return !biases.isEmpty();
  }
}
