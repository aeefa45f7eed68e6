package dev.weft.model;

import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.function.IntConsumer;

/**
 * Every parameter and gradient resident in two flat buffers laid out by {@link ParameterLayout}: one
 * device, or a data-parallel replica. An optional listener hears when a region's gradients are complete
 * (what a gradient bucket manager needs to start reducing while backward goes on).
 */
public final class FlatWeights implements WeightStore {
  private final Tensor params;
  private final Tensor grads;
  private final Segment paramSeg;
  private final Segment gradSeg;
  private IntConsumer gradsDoneListener = r -> {};

  public FlatWeights(ParameterLayout layout, DeviceMemory memory) {
    this.params = Tensor.zeros(memory, "param.all", layout.total());
    try {
      this.grads = Tensor.zeros(memory, "grad.all", layout.total());
    } catch (RuntimeException e) {
      params.close();
      throw e;
    }
    this.paramSeg = new Segment(params.data(), 0);
    this.gradSeg = new Segment(grads.data(), 0);
  }

  public float[] params() { return params.data(); }
  public float[] grads() { return grads.data(); }

  /** Called with the region index each time backward finishes a region. */
  public void onGradsDone(IntConsumer listener) {
    this.gradsDoneListener = listener;
  }

  @Override public Segment params(int region) { return paramSeg; }
  @Override public void releaseParams(int region) {}
  @Override public Segment grads(int region) { return gradSeg; }
  @Override public void gradsDone(int region) { gradsDoneListener.accept(region); }

  @Override
  public void close() {
    params.close();
    grads.close();
  }
}
