package dev.weft.model;

/**
 * Causal self-attention of a block: {@code heads} query heads and {@code kvHeads} key/value heads (grouped-
 * query attention when fewer: each K/V head serves heads / kvHeads consecutive query heads) of width
 * {@code headDim}, scores scaled by 1/sqrt(headDim). {@code qkv} projects C to (heads + 2 kvHeads) headDim
 * features laid out q | k | v (column-parallel: a rank keeps whole heads of each); {@code out} projects
 * heads headDim back to C (row-parallel). Positions: learned (added at the embedding) unless
 * {@code ropeTheta} > 0, then rotary embeddings in the rotate-half form on q and k
 * (inv_freq_i = theta^(-2i/headDim)).
 */
public record AttentionSpec(int heads, int kvHeads, int headDim, double ropeTheta, LinearSpec qkv, LinearSpec out) {
  public AttentionSpec {
    if (heads < 1 || kvHeads < 1 || headDim < 1) throw new IllegalArgumentException("heads, kvHeads, headDim >= 1");
    if (heads % kvHeads != 0) throw new IllegalArgumentException("kvHeads must divide heads");
    if (ropeTheta > 0 && headDim % 2 != 0) throw new IllegalArgumentException("rotary embeddings need an even headDim");
  }

  public boolean rotary() {
    return ropeTheta > 0;
  }

  /** Query heads per K/V head. */
  public int group() {
    return heads / kvHeads;
  }
}
