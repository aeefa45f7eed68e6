package dev.weft.parallel.dp;

import dev.weft.comm.Communicator;
import dev.weft.comm.Handle;
import dev.weft.comm.ReduceOp;
import dev.weft.model.Initializer;
import dev.weft.model.ParameterLayout;
import dev.weft.model.WeightStore;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The weights of one data-parallel rank under ZeRO stage 0-3, and the gradient synchronisation that goes
 * with each stage. With P parameters, N ranks and fp32 (4 bytes of weights, 4 of gradients, 8 of AdamW
 * moments per parameter), the model state per rank is:
 * <pre>
 *   stage 0  16P          params, grads, moments all full;     grads all-reduced region by region
 *   stage 1  8P + 8P/N    params, grads full; moments sharded; grads reduce-scattered, params all-gathered
 *   stage 2  4P + 12P/N   params full; grads and moments sharded (a region's full gradient lives only
 *                         from its backward to its reduce-scatter)
 *   stage 3  16P/N        everything sharded; a region's parameters are all-gathered just before use in
 *                         forward and again in backward (the next region prefetched), and freed after
 * </pre>
 * plus transient buffers: one region's piece for a collective ("comm"); under ZeRO-2/3 up to three
 * regions' full gradients ("grad.region": the embeddings' during all of backward, the region computing,
 * and one waiting for its reduce-scatter); under ZeRO-3 up to three gathered regions ("comm": the one
 * computing, the one prefetched, and the embeddings at the ends of forward and backward).
 *
 * <p>Gradient communication is a bucket per region, started asynchronously as soon as backward finishes
 * the region ({@link #gradsDone}) so it overlaps the rest of backward; stages 0 and 1 reduce only on the
 * last micro-batch of a step, stages 2 and 3 on every micro-batch (their full gradients are not kept).
 * Gradients are summed (the loss is already scaled by 1 / global batch).
 */
public final class ZeroWeights implements WeightStore {
  private final int stage;
  private final ShardPlan plan;
  private final ParameterLayout layout;
  private final Communicator dp;
  private final DeviceMemory memory;
  private final BufferPool pool;

  private final Tensor params;     // stage 0-2: full
  private final Tensor grads;      // stage 0-1: full
  private final Tensor paramShard; // stage 3
  private final Tensor gradShard;  // stage 2-3
  private final Segment fullParams;
  private final Segment fullGrads;

  /** A communication still in flight and what to do once it is done. */
  private record Pending(Handle handle, Runnable then) {}

  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private final Map<Integer, Gathered> gathered = new HashMap<>();
  private final Map<Integer, Tensor> regionGrads = new HashMap<>();
  private boolean syncThisMicroBatch = true;

  /** A ZeRO-3 region materialised by an all-gather. */
  private static final class Gathered {
    final Tensor buffer;
    final Handle handle;
    final Tensor send;
    int users;
    boolean ready;

    Gathered(Tensor buffer, Handle handle, Tensor send) {
      this.buffer = buffer;
      this.handle = handle;
      this.send = send;
    }
  }

  public ZeroWeights(int stage, ParameterLayout layout, Communicator dp, DeviceMemory memory) {
    if (stage < 0 || stage > 3) {
      throw new dev.weft.WeftInputException("--zero must be 0, 1, 2 or 3, got " + stage + ".");
    }
    this.stage = stage;
    this.layout = layout;
    this.dp = dp;
    this.memory = memory;
    this.plan = new ShardPlan(layout, dp.size(), dp.rank());
    this.pool = new BufferPool(memory);
    Tensor p = null, g = null, ps = null, gs = null;
    try {
      if (stage <= 2) p = Tensor.zeros(memory, "param.all", layout.total());
      if (stage <= 1) g = Tensor.zeros(memory, "grad.all", layout.total());
      if (stage == 3) ps = Tensor.zeros(memory, "param.shard", plan.shardSize());
      if (stage >= 2) gs = Tensor.zeros(memory, "grad.shard", plan.shardSize());
    } catch (RuntimeException e) {
      for (Tensor t : new Tensor[] {p, g, ps, gs}) if (t != null) t.close();
      throw e;
    }
    params = p;
    grads = g;
    paramShard = ps;
    gradShard = gs;
    fullParams = p == null ? null : new Segment(p.data(), 0);
    fullGrads = g == null ? null : new Segment(g.data(), 0);
  }

  public int stage() { return stage; }
  public ShardPlan plan() { return plan; }
  public Communicator group() { return dp; }

  /** Draws the initial weights (layout-independent: see {@link GPT2#initialize}) and keeps what this rank holds. */
  public void initialize(long seed) {
    if (stage <= 2) {
      Initializer.initialize(layout, seed, params.data(), 0, layout.total());
      return;
    }
    for (ShardPlan.Piece pc : plan.pieces()) {
      if (pc.length() == 0) continue;
      float[] tmp = new float[pc.length()];
      Initializer.initialize(layout, seed, tmp, pc.flatStart(), pc.flatStart() + pc.length());
      System.arraycopy(tmp, 0, paramShard.data(), pc.shardOffset(), pc.length());
    }
  }

  /** Sets the weights from full (layout-independent) arrays, keeping this rank's part. */
  public void loadFull(float[] full) {
    if (stage <= 2) {
      System.arraycopy(full, 0, params.data(), 0, layout.total());
    } else {
      for (ShardPlan.Piece pc : plan.pieces()) {
        System.arraycopy(full, pc.flatStart(), paramShard.data(), pc.shardOffset(), pc.length());
      }
    }
  }

  /** The full weights (a collective under ZeRO-3: every rank of the group must call it). */
  public float[] gatherFull() {
    if (stage <= 2) return params.data().clone();
    float[] full = new float[layout.total()];
    for (ShardPlan.Piece pc : plan.pieces()) {
      dp.allGather(paramShard.data(), pc.shardOffset(), full, layout.regionStart(pc.region()), plan.counts(pc.region()));
    }
    return full;
  }

  /** The full reduced gradients after {@link #finishBackward} (a collective at stages 1-3). */
  public float[] gatherFullGrads() {
    if (stage == 0) return grads.data().clone();
    float[] full = new float[layout.total()];
    float[] src = ownedGradArray();
    for (ShardPlan.Piece pc : plan.pieces()) {
      dp.allGather(src, ownedGradOffset(pc), full, layout.regionStart(pc.region()), plan.counts(pc.region()));
    }
    return full;
  }

  /**
   * Sums region {@code region}'s accumulated gradients over {@code group} before they are reduced over
   * the data-parallel group: the tied embedding's two copies on the first and last pipeline stages. At
   * stages 0-1 they are in the full gradient buffer; at stages 2-3 the region is still resident whole,
   * since a pipeline never declares the embeddings' gradients done before {@link #syncAllRegions}.
   */
  public void allReduceRegionGrads(Communicator group, int region) {
    int size = layout.regionSize(region);
    if (size == 0) return;
    if (stage <= 1) {
      group.allReduce(grads.data(), layout.regionStart(region), size, ReduceOp.SUM);
      return;
    }
    Tensor t = regionGrads.get(region);
    if (t == null) throw new IllegalStateException("region " + region + "'s gradients were already reduced");
    group.allReduce(t.data(), 0, size, ReduceOp.SUM);
  }

  /**
   * After a pipeline step (whose micro-batches ran with {@code setLastMicroBatch(false)}): reduces every
   * region's gradients over the data-parallel group now and waits for them. At stages 2-3 each region's
   * gradient was reduce-scattered after every micro-batch's backward (as without a pipeline), so only the
   * regions still resident are left: the embeddings (see {@link #allReduceRegionGrads}).
   */
  public void syncAllRegions() {
    setLastMicroBatch(true);
    for (int r = layout.regionCount() - 1; r >= 0; r--) {
      if (layout.regionSize(r) == 0) continue;
      if (stage <= 1 || regionGrads.containsKey(r)) gradsDone(r);
    }
    finishBackward();
  }

  // ---- the step's lifecycle ----------------------------------------------------------------------------

  /** Zeroes the gradient accumulators at the start of a step. */
  public void zeroGrad() {
    if (grads != null) Arrays.fill(grads.data(), 0f);
    if (gradShard != null) Arrays.fill(gradShard.data(), 0f);
  }

  /** Whether gradients are synchronised after this micro-batch (stages 0-1: only the last one). */
  public void setLastMicroBatch(boolean last) {
    syncThisMicroBatch = stage >= 2 || last;
  }

  /** Waits for every gradient reduction started during backward. */
  public void finishBackward() {
    drain(0);
  }

  /** The gradient this rank owns, as (array, offset) per piece: full buffer (stage 0-1) or the shard. */
  float[] ownedGradArray() { return stage <= 1 ? grads.data() : gradShard.data(); }

  int ownedGradOffset(ShardPlan.Piece pc) { return stage <= 1 ? pc.flatStart() : pc.shardOffset(); }

  float[] ownedParamArray() { return stage <= 2 ? params.data() : paramShard.data(); }

  int ownedParamOffset(ShardPlan.Piece pc) { return stage <= 2 ? pc.flatStart() : pc.shardOffset(); }

  /** Full gradients (stage 0 only, where every rank holds the same reduced gradients). */
  float[] fullGradArray() { return grads.data(); }

  /** After the optimizer updated the owned pieces: stages 1-2 all-gather the parameters again. */
  void afterUpdate() {
    if (stage == 1 || stage == 2) {
      for (ShardPlan.Piece pc : plan.pieces()) {
        int r = pc.region();
        Tensor send = pool.take("comm.gather-send", Math.max(1, pc.length()), false);
        System.arraycopy(params.data(), pc.flatStart(), send.data(), 0, pc.length());
        Handle h = dp.allGatherAsync(send.data(), 0, params.data(), layout.regionStart(r), plan.counts(r));
        pending.add(new Pending(h, () -> pool.give(send)));
      }
      drain(0);
    }
  }

  private void drain(int keep) {
    while (pending.size() > keep) {
      Pending p = pending.poll();
      p.handle().await();
      p.then().run();
    }
  }

  // ---- WeightStore ------------------------------------------------------------------------------------

  @Override
  public Segment params(int region) {
    if (stage <= 2) return fullParams;
    Gathered g = gathered.get(region);
    if (g == null) {
      g = startGather(region);
    }
    if (!g.ready) {
      g.handle.await();
      pool.give(g.send);
      g.ready = true;
    }
    g.users++;
    return new Segment(g.buffer.data(), layout.regionStart(region));
  }

  @Override
  public void prefetch(int region) {
    if (stage == 3 && region >= 0 && region < layout.regionCount() && !gathered.containsKey(region)) {
      startGather(region);
    }
  }

  private Gathered startGather(int region) {
    ShardPlan.Piece pc = plan.piece(region);
    Tensor buf = pool.take("comm.gathered-region", layout.regionSize(region), false);
    Tensor send = pool.take("comm.gather-send", Math.max(1, pc.length()), false);
    System.arraycopy(paramShard.data(), pc.shardOffset(), send.data(), 0, pc.length());
    Handle h = dp.allGatherAsync(send.data(), 0, buf.data(), 0, plan.counts(region));
    Gathered g = new Gathered(buf, h, send);
    gathered.put(region, g);
    return g;
  }

  @Override
  public void releaseParams(int region) {
    if (stage <= 2) return;
    Gathered g = gathered.get(region);
    if (g == null) return;
    if (--g.users <= 0) {
      gathered.remove(region);
      pool.give(g.buffer);
    }
  }

  @Override
  public boolean reduceGradsNow() {
    return syncThisMicroBatch;
  }

  @Override
  public Segment grads(int region) {
    if (stage <= 1) return fullGrads;
    Tensor t = regionGrads.get(region);
    if (t == null) {
      t = pool.take("grad.region", layout.regionSize(region), true);
      regionGrads.put(region, t);
    }
    return new Segment(t.data(), layout.regionStart(region));
  }

  @Override
  public void gradsDone(int region) {
    ShardPlan.Piece pc = plan.piece(region);
    int[] counts = plan.counts(region);
    int start = layout.regionStart(region);
    int size = layout.regionSize(region);
    if (stage == 0) {
      if (syncThisMicroBatch) pending.add(new Pending(dp.allReduceAsync(grads.data(), start, size, ReduceOp.SUM), () -> {}));
      return;
    }
    if (stage == 1) {
      if (!syncThisMicroBatch) return;
      Tensor piece = pool.take("comm.reduce-scatter", Math.max(1, pc.length()), false);
      Handle h = dp.reduceScatterAsync(grads.data(), start, piece.data(), 0, counts, ReduceOp.SUM);
      pending.add(new Pending(h, () -> {
        System.arraycopy(piece.data(), 0, grads.data(), pc.flatStart(), pc.length());
        pool.give(piece);
      }));
      return;
    }
    Tensor full = regionGrads.remove(region);
    Tensor piece = pool.take("comm.reduce-scatter", Math.max(1, pc.length()), false);
    Handle h = dp.reduceScatterAsync(full.data(), 0, piece.data(), 0, counts, ReduceOp.SUM);
    pending.add(new Pending(h, () -> {
      float[] acc = gradShard.data();
      float[] src = piece.data();
      for (int i = 0; i < pc.length(); i++) acc[pc.shardOffset() + i] += src[i];
      pool.give(piece);
      pool.give(full);
    }));
    // Bound the memory in flight: at most one region's gradient waits for its reduce-scatter.
    drain(1);
  }

  @Override
  public void close() {
    try {
      drain(0);
    } catch (RuntimeException ignored) {
      // closing after a failure: the buffers are released below either way
    }
    for (Gathered g : gathered.values()) {
      g.buffer.close();
      if (!g.ready) g.send.close();
    }
    gathered.clear();
    for (Tensor t : regionGrads.values()) t.close();
    regionGrads.clear();
    for (Tensor t : new Tensor[] {params, grads, paramShard, gradShard}) if (t != null) t.close();
    pool.clear();
  }
}
