package dev.weft.model;

import java.util.Arrays;

/**
 * One parameter as its model family declares it: its name (exactly as in the family's Hugging Face
 * checkpoints), its full shape, where it lives ({@code layer} >= 0 for block parameters, else the
 * embeddings' or the final region), how tensor parallelism splits it, how it is initialised, and whether
 * AdamW decays it.
 */
public record ParamSpec(String name, int[] shape, int layer, Region region, TpSplit split, Init init, boolean decay) {
  /** The parameter regions: the unit of ZeRO-3 gathers, gradient buckets and pipeline placement. */
  public enum Region {
    /** Token (and learned position) embeddings: region 0, on the first pipeline stage. */
    EMBEDDING,
    /** Block {@code layer}'s parameters: region 1 + layer. */
    BLOCK,
    /** The final norm and an untied output head: region L + 1, on the last stage. */
    FINAL
  }

  public long numel() {
    long n = 1;
    for (int d : shape) n *= d;
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParamSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape) && p.layer == layer
        && p.region == region && p.split.equals(split) && p.init.equals(init) && p.decay == decay;
  }

  @Override
  public int hashCode() {
    return name.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }
}
