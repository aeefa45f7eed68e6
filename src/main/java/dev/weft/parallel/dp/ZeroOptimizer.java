package dev.weft.parallel.dp;

import dev.weft.comm.ReduceOp;
import dev.weft.kernels.AdamW;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;

/**
 * AdamW for a data-parallel rank: at ZeRO stage 0 over every parameter, at stages 1-3 over the pieces this
 * rank owns ({@link ShardPlan}), with moments sized to match (16P vs 8P/N bytes). Gradient clipping uses
 * the global norm: at stage 0 every rank holds the same reduced gradients and sums all of them (in the same
 * order as one device); at stages 1-3 each rank sums the squares of its pieces and the partial sums are
 * all-reduced. Weight decay follows {@link ParameterLayout.Param#decays()}, split at parameter boundaries
 * inside a piece.
 */
public final class ZeroOptimizer implements AutoCloseable {
  private final ZeroWeights weights;
  private final ParameterLayout layout;
  private final Tensor m;
  private final Tensor v;
  private final float beta1, beta2, eps, weightDecay;
  private int t;

  public ZeroOptimizer(ZeroWeights weights, DeviceMemory memory, float beta1, float beta2, float eps, float weightDecay) {
    this.weights = weights;
    this.layout = weights.plan().layout();
    int n = weights.stage() == 0 ? layout.total() : weights.plan().shardSize();
    this.m = Tensor.zeros(memory, "adam.m", n);
    try {
      this.v = Tensor.zeros(memory, "adam.v", n);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  /** The global gradient norm (before clipping) without tensor parallelism. */
  public double gradNorm() {
    return gradNorm(dev.weft.parallel.tp.TensorParallel.NONE);
  }

  /**
   * The global gradient norm (before clipping), identical on every rank. Under tensor parallelism the
   * split parameters' squares are summed over the TP group and the replicated ones counted once (from TP
   * rank 0). At stage 0 every DP rank holds the same reduced gradients and sums them in flat order (as one
   * device does); at stages 1-3 each sums its pieces and the partial sums are all-reduced over DP.
   */
  public double gradNorm(dev.weft.parallel.tp.TensorParallel tp) {
    return gradNorm(tp, null, true);
  }

  /**
   * As {@link #gradNorm(dev.weft.parallel.tp.TensorParallel)}, summed over the pipeline group {@code pp} too
   * (null without pipeline parallelism); {@code countEmbedding} false leaves out region 0 (the last stage's
   * tied copy of the embeddings, whose gradient the first stage already counts).
   */
  public double gradNorm(dev.weft.parallel.tp.TensorParallel tp, dev.weft.comm.Communicator pp, boolean countEmbedding) {
    boolean countReplicated = tp.rank() == 0;
    int skipEnd = countEmbedding ? 0 : layout.regionEnd(0);
    double local = 0;
    if (weights.stage() == 0) {
      float[] g = weights.fullGradArray();
      if (tp.size() == 1 && pp == null) {
        for (float x : g) local += (double) x * x;
        return Math.sqrt(local);
      }
      for (ParameterLayout.Param prm : layout.params()) {
        if (prm.replicated() && !countReplicated) continue;
        if (prm.offset() < skipEnd) continue;
        for (int i = prm.offset(); i < prm.offset() + prm.size(); i++) local += (double) g[i] * g[i];
      }
    } else {
      float[] g = weights.ownedGradArray();
      for (ShardPlan.Piece pc : weights.plan().pieces()) {
        int o = weights.ownedGradOffset(pc);
        int end = pc.flatStart() + pc.length();
        for (ParameterLayout.Param prm : layout.params()) {
          int lo = Math.max(pc.flatStart(), prm.offset());
          int hi = Math.min(end, prm.offset() + prm.size());
          if (lo >= hi || (prm.replicated() && !countReplicated) || prm.offset() < skipEnd) continue;
          for (int i = lo; i < hi; i++) {
            float x = g[o + i - pc.flatStart()];
            local += (double) x * x;
          }
        }
      }
    }
    float[] buf = {(float) local};
    if (weights.stage() > 0) weights.group().allReduce(buf, 0, 1, ReduceOp.SUM);
    if (tp.size() > 1) tp.group().allReduce(buf, 0, 1, ReduceOp.SUM);
    if (pp != null) pp.allReduce(buf, 0, 1, ReduceOp.SUM);
    return Math.sqrt(buf[0]);
  }

  /** Clips to {@code maxNorm} (0 = off) given the global norm, updates what this rank owns, re-gathers. */
  public void step(double norm, double maxNorm, float lr) {
    float scale = maxNorm > 0 && norm > maxNorm ? (float) (maxNorm / (norm + 1e-6)) : 1f;
    t++;
    float[] g = weights.stage() == 0 ? weights.fullGradArray() : weights.ownedGradArray();
    float[] p = weights.ownedParamArray();
    if (weights.stage() == 0) {
      if (scale != 1f) for (int i = 0; i < g.length; i++) g[i] *= scale;
      for (ParameterLayout.Param prm : layout.params()) {
        AdamW.update(p, prm.offset(), g, prm.offset(), m.data(), v.data(), prm.offset(), prm.size(), lr,
            beta1, beta2, eps, prm.decays() ? weightDecay : 0f, t);
      }
      return;
    }
    for (ShardPlan.Piece pc : weights.plan().pieces()) {
      int go = weights.ownedGradOffset(pc);
      int po = weights.ownedParamOffset(pc);
      if (scale != 1f) for (int i = 0; i < pc.length(); i++) g[go + i] *= scale;
      // Split the piece at parameter boundaries (decay differs between parameters).
      int pos = pc.flatStart();
      int end = pc.flatStart() + pc.length();
      for (ParameterLayout.Param prm : layout.params()) {
        int lo = Math.max(pos, prm.offset());
        int hi = Math.min(end, prm.offset() + prm.size());
        if (lo >= hi) continue;
        int d = lo - pc.flatStart();
        AdamW.update(p, po + d, g, go + d, m.data(), v.data(), pc.shardOffset() + d, hi - lo, lr,
            beta1, beta2, eps, prm.decays() ? weightDecay : 0f, t);
      }
    }
    weights.afterUpdate();
  }

  public int stepCount() { return t; }
  public void setStepCount(int t) { this.t = t; }

  /** Full moments (collective at stages 1-3): {m, v}, each laid out like the flat parameters. */
  public float[][] gatherFull() {
    if (weights.stage() == 0) return new float[][] {m.data().clone(), v.data().clone()};
    float[] fm = new float[layout.total()];
    float[] fv = new float[layout.total()];
    ShardPlan plan = weights.plan();
    for (ShardPlan.Piece pc : plan.pieces()) {
      int r = pc.region();
      weights.group().allGather(m.data(), pc.shardOffset(), fm, layout.regionStart(r), plan.counts(r));
      weights.group().allGather(v.data(), pc.shardOffset(), fv, layout.regionStart(r), plan.counts(r));
    }
    return new float[][] {fm, fv};
  }

  /** Sets the moments from full arrays, keeping this rank's part. */
  public void loadFull(float[] fm, float[] fv) {
    if (weights.stage() == 0) {
      System.arraycopy(fm, 0, m.data(), 0, layout.total());
      System.arraycopy(fv, 0, v.data(), 0, layout.total());
      return;
    }
    for (ShardPlan.Piece pc : weights.plan().pieces()) {
      System.arraycopy(fm, pc.flatStart(), m.data(), pc.shardOffset(), pc.length());
      System.arraycopy(fv, pc.flatStart(), v.data(), pc.shardOffset(), pc.length());
    }
  }

  @Override
  public void close() {
    m.close();
    v.close();
  }
}
