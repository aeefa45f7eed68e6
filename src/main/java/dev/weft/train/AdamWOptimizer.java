package dev.weft.train;

import dev.weft.kernels.AdamW;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;

/**
 * AdamW over a flat parameter buffer: two moment buffers (m, v) of the same length, charged to the
 * device; weight decay only for parameters that {@link ParameterLayout.Param#decays() decay}.
 * Hyper-parameters as in GPT-2/nanoGPT practice: betas (0.9, 0.95), eps 1e-8, weight decay 0.1.
 */
public final class AdamWOptimizer implements AutoCloseable {
  private final ParameterLayout layout;
  private final Tensor m;
  private final Tensor v;
  private final float beta1, beta2, eps, weightDecay;
  private int t;

  public AdamWOptimizer(ParameterLayout layout, DeviceMemory memory, float beta1, float beta2, float eps,
                        float weightDecay) {
    this.layout = layout;
    this.m = Tensor.zeros(memory, "adam.m", layout.total());
    try {
      this.v = Tensor.zeros(memory, "adam.v", layout.total());
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  /** One update of every parameter with learning rate lr; the gradients are read, not changed. */
  public void step(float[] params, float[] grads, float lr) {
    t++;
    for (ParameterLayout.Param p : layout.params()) {
      AdamW.update(params, p.offset(), grads, p.offset(), m.data(), v.data(), p.offset(), p.size(),
          lr, beta1, beta2, eps, p.decays() ? weightDecay : 0f, t);
    }
  }

  public float[] m() { return m.data(); }
  public float[] v() { return v.data(); }
  public int stepCount() { return t; }
  public void setStepCount(int t) { this.t = t; }

  @Override
  public void close() {
    m.close();
    v.close();
  }
}
