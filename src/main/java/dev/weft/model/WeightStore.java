package dev.weft.model;

/**
 * Where GPT-2 finds its parameters and gradients, region by region (region 0 = the embeddings wte and wpe,
 * region 1 + l = block l, region L + 1 = the final LayerNorm; see {@link ParameterLayout#regionStart}).
 * The model asks for a region just before it uses it and says when it is done, so a store can keep every
 * region resident (one device, plain data parallelism) or materialise regions on demand and free them
 * (ZeRO-2 gradients, ZeRO-3 parameters).
 *
 * <p>Call order per micro-batch: forward asks params of 0, 1..L, L+1, 0 (logits); backward asks params and
 * grads of 0 (logits), L+1, L..1, and grads of 0 again (embedding), calling {@link #gradsDone} for L+1,
 * L..1 and finally 0.
 */
public interface WeightStore extends AutoCloseable {
  /** A region's storage: the value at flat-layout offset {@code o} lives at {@code array[o - shift]}. */
  record Segment(float[] array, int shift) {
    public int at(int flatOffset) {
      return flatOffset - shift;
    }
  }

  /** The parameters of a region, ready to read (may wait for a gather). */
  Segment params(int region);

  /** The model no longer needs this region's parameters until it asks again. */
  void releaseParams(int region);

  /** A hint that {@code region}'s parameters will be asked for next; a store may start fetching them. */
  default void prefetch(int region) {}

  /** The gradient accumulator of a region (the same buffer until {@link #gradsDone}). */
  Segment grads(int region);

  /**
   * Whether gradients written in this micro-batch are to be reduced now (false while they keep accumulating
   * in resident buffers until the last micro-batch of a step).
   */
  default boolean reduceGradsNow() {
    return true;
  }

  /** Backward has finished writing this region's gradients for the current micro-batch. */
  void gradsDone(int region);

  @Override
  void close();
}
