package dev.weft.model;

import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.Compute;
import dev.weft.kernels.CrossEntropy;
import dev.weft.kernels.Encoder;
import dev.weft.kernels.Gelu;
import dev.weft.kernels.LayerNorm;
import dev.weft.kernels.Linear;
import dev.weft.kernels.Residual;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import dev.weft.model.Activations.Deferred;
import dev.weft.model.WeightStore.Segment;
import dev.weft.parallel.cp.ContextParallel;
import dev.weft.parallel.cp.CpAttention;
import dev.weft.parallel.tp.ColumnParallelLinear;
import dev.weft.parallel.tp.Regions;
import dev.weft.parallel.tp.RowParallelLinear;
import dev.weft.parallel.tp.TensorParallel;
import dev.weft.parallel.tp.VocabParallel;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * GPT-2 on one device, with an explicit forward and backward (llm.c style). Pre-LayerNorm blocks:
 * {@code x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))}, learned position embeddings, fused qkv, causal
 * softmax attention scaled by 1/sqrt(hs), MLP 4C wide with tanh-GELU, final LayerNorm, logits by the
 * tied token embedding ({@code logits = ln_f(x) wte^T}). Attention is computed blockwise with the online
 * softmax ({@link BlockAttention}), so no T x T score matrix is ever held: memory grows linearly with T.
 *
 * <p>Parameters and gradients are reached region by region through a {@link WeightStore} (flat buffers on
 * one device; sharded and gathered under ZeRO), addressed by {@link ParameterLayout} offsets. Backward
 * accumulates into the gradients, so micro-batches accumulate until the store's gradients are zeroed.
 */
public final class GPT2 implements AutoCloseable {
  private final GPT2Config config;
  private final ParameterLayout layout;
  private final Compute cx;
  private final DeviceMemory memory;
  private final WeightStore store;
  private final FlatWeights flat;
  private final TensorParallel tp;
  private final ContextParallel cp;
  private final CpAttention cpAttention;

  /** A model with all weights resident on one device. */
  public GPT2(GPT2Config config, Compute cx, DeviceMemory memory) {
    this(new ParameterLayout(config), cx, memory, null, TensorParallel.NONE);
  }

  /** A model reading its weights through {@code store} (which it closes). */
  public GPT2(ParameterLayout layout, Compute cx, DeviceMemory memory, WeightStore store) {
    this(layout, cx, memory, store, TensorParallel.NONE);
  }

  /**
   * A tensor-parallel rank's share of the model ({@code layout} must be this rank's local layout) reading
   * its weights through {@code store} (which it closes; null = resident flat buffers).
   */
  public GPT2(ParameterLayout layout, Compute cx, DeviceMemory memory, WeightStore store, TensorParallel tp) {
    this(layout, cx, memory, store, tp, ContextParallel.NONE);
  }

  /**
   * As above, with context parallelism: every sequence's T tokens are split over the CP group, this rank
   * holding the rows at {@code cp.positions(T)}; attention exchanges keys and values over the group
   * (ring, or all-to-all head exchange); everything else is local to the rows.
   */
  public GPT2(ParameterLayout layout, Compute cx, DeviceMemory memory, WeightStore store, TensorParallel tp,
              ContextParallel cp) {
    if (layout.tp() != tp.size() || layout.tpRank() != tp.rank()) {
      throw new IllegalArgumentException("layout is for tp rank " + layout.tpRank() + " of " + layout.tp()
          + " but the group is rank " + tp.rank() + " of " + tp.size());
    }
    this.config = layout.config();
    this.layout = layout;
    this.cx = cx;
    this.memory = memory;
    this.tp = tp;
    this.cp = cp;
    this.cpAttention = cp.size() > 1 ? cp.attention(new BufferPool(memory)) : null;
    this.flat = store == null ? new FlatWeights(layout, memory) : (store instanceof FlatWeights f ? f : null);
    this.store = store == null ? flat : store;
  }

  public TensorParallel tensorParallel() { return tp; }

  public ContextParallel contextParallel() { return cp; }

  /** The CP attention operator (null without context parallelism), e.g. to read its ring statistics. */
  public CpAttention cpAttention() { return cpAttention; }

  /** Absolute positions of this rank's Tl rows of each sequence (null: all T positions, in order). */
  private int[] positions(int tl) {
    if (cp.size() == 1) return null;
    if (positionsTl != tl) {
      positionsCache = cp.positions(tl * cp.size());
      positionsTl = tl;
    }
    return positionsCache;
  }

  private int[] positionsCache;
  private int positionsTl = -1;

  public GPT2Config config() { return config; }
  public ParameterLayout layout() { return layout; }
  public Compute compute() { return cx; }
  public DeviceMemory memory() { return memory; }
  public WeightStore store() { return store; }

  /** All parameters, flat (only for a model whose weights are all resident). */
  public float[] params() { return flatStore().params(); }

  /** All gradients, flat (only for a model whose weights are all resident). */
  public float[] grads() { return flatStore().grads(); }

  private FlatWeights flatStore() {
    if (flat == null) throw new IllegalStateException("this model's weights are sharded; use its WeightStore");
    return flat;
  }

  public void zeroGrad() {
    java.util.Arrays.fill(grads(), 0f);
  }

  /** Initialises resident weights; see {@link #initialize(ParameterLayout, long, float[], int, int)}. */
  public void initialize(long seed) {
    initialize(layout, seed, params(), 0, layout.total());
  }

  /**
   * GPT-2 initialisation, independent of any device layout: every parameter is drawn from its own
   * stream seeded by (seed, name). Weights ~ N(0, 0.02), the two residual projections (attn.c_proj,
   * mlp.c_proj) ~ N(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm gains 1. Writes the flat range
   * [from, to) into {@code dst} starting at {@code dst[0]} (so a rank can materialise just its shard).
   */
  public static void initialize(ParameterLayout layout, long seed, float[] dst, int from, int to) {
    int L = layout.config().layers();
    for (ParameterLayout.Param param : layout.params()) {
      int off = param.offset();
      int lo = Math.max(from, off);
      int hi = Math.min(to, off + param.size());
      if (lo >= hi) continue;
      String n = param.name();
      if (n.endsWith("ln_1.weight") || n.endsWith("ln_2.weight") || n.equals("ln_f.weight")) {
        Arrays.fill(dst, lo - from, hi - from, 1f);
      } else if (param.shape().length == 1) {
        Arrays.fill(dst, lo - from, hi - from, 0f);
      } else {
        double std = 0.02;
        if (n.endsWith("c_proj.weight")) std /= Math.sqrt(2.0 * L);
        SplittableRandom rng = streamFor(seed, n);
        // Draw the full tensor (layout-independent), then keep this rank's slice of it.
        int fullSize = param.fullShape()[0] * param.fullShape()[1];
        float[] full = new float[fullSize];
        for (int i = 0; i < fullSize; i++) full[i] = (float) (rng.nextGaussian() * std);
        float[] local = full;
        if (!param.slice().replicated()) {
          local = new float[param.size()];
          param.slice().extract(full, 0, param.fullShape(), local, 0, param.shape());
        }
        System.arraycopy(local, lo - off, dst, lo - from, hi - lo);
      }
    }
  }

  /** The random stream of one named parameter: depends only on the seed and the name. */
  public static SplittableRandom streamFor(long seed, String name) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < name.length(); i++) {
      h ^= name.charAt(i);
      h *= 0x100000001b3L;
    }
    return new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ h);
  }

  /** Activation buffers for micro-batches of B sequences of T tokens, charged to this device. */
  public Activations newActivations(int B, int T) {
    newActivationsCheck(B, T);
    return new Activations(memory, config, B, T, layout.paddedVocab(), tp.size(), tp.sp());
  }

  /** As above; with {@code recompute}, blocks keep only their outputs and backward recomputes the rest. */
  public Activations newActivations(int B, int T, boolean recompute) {
    newActivationsCheck(B, T);
    return new Activations(memory, config, B, T, layout.paddedVocab(), tp.size(), tp.sp(), recompute);
  }

  /** Activations for one pipeline chunk's blocks (and the head's buffers when it runs the head). */
  public Activations newStageActivations(int B, int T, boolean[] layers, boolean head) {
    newActivationsCheck(B, T);
    return new Activations(memory, config, B, T, layout.paddedVocab(), tp.size(), tp.sp(), layers, head);
  }

  /** As above, on a workspace the caller shares between its micro-batches (see {@link Workspace}). */
  public Activations newStageActivations(int B, int T, boolean[] layers, boolean head, Workspace ws) {
    return newStageActivations(B, T, layers, head, ws, null);
  }

  /** As above, the arrays taken from (and on close given back to) {@code pool}; null: allocated anew. */
  public Activations newStageActivations(int B, int T, boolean[] layers, boolean head, Workspace ws,
                                         BufferPool pool) {
    newActivationsCheck(B, T);
    return new Activations(memory, config, B, T, layout.paddedVocab(), tp.size(), tp.sp(), layers, head, ws, pool);
  }

  /** A workspace for micro-batches of B sequences of T tokens on this rank, charged to this device. */
  public Workspace newWorkspace(int B, int T, boolean recompute) {
    newActivationsCheck(B, T);
    return new Workspace(memory, config, B, T, tp.size(), tp.sp(), recompute);
  }

  private void newActivationsCheck(int B, int T) {
    if (T > config.context()) {
      throw new dev.weft.WeftInputException("sequence length " + T + " is longer than the model's context "
          + config.context() + ".");
    }
    if (tp.sp() && (B * T) % tp.size() != 0) {
      throw new dev.weft.WeftInputException("sequence parallelism splits the " + B * T + " rows of a micro-batch ("
          + B + " x " + T + ") over --tp " + tp.size() + " ranks, which needs a multiple of " + tp.size()
          + "; change --micro-batch or the context.");
    }
  }

  /**
   * Forward over {@code tokens} (B rows of T+1 ids starting at row {@code rowOffset} of a [rows, T+1]
   * array): inputs are the first T of each row, targets the last T. Returns the mean loss over the B*T
   * positions (the same on every tensor-parallel rank). If {@code lossScale} is not NaN, also leaves
   * d(lossScale * sum of losses)/d logits in {@code act.logits}, ready for {@link #backward}.
   *
   * <p>Per block (R = this rank's rows of the residual stream, N = B T): {@code ln1 = LN(x)} [R,C];
   * {@code qkv = ColumnParallel(ln1)} [N,3C/t]; {@code atty = attention over the rank's heads} [N,C/t];
   * {@code x2 = x + RowParallel(atty)} [R,C]; then the MLP the same way with GELU between c_fc and c_proj.
   */
  public float forward(Activations act, int[] tokens, int rowOffset, float lossScale) {
    loadTokens(act, tokens, rowOffset);
    embedForward(act);
    blocksForward(act, 0, config.layers());
    return headForward(act, lossScale);
  }

  /** Backward after {@link #forward} with a loss scale; accumulates into the gradients. */
  public void backward(Activations act) {
    headBackward(act, false);
    blocksBackward(act, 0, config.layers(), false);
    embedBackward(act);
    embeddingGradsDone();
  }

  /** Takes the micro-batch's inputs (first T of each row) and targets (last T) from [rows, T+1] token ids. */
  public void loadTokens(Activations act, int[] tokens, int rowOffset) {
    int B = act.B, T = act.T, V = config.vocab();
    int full = T * cp.size();
    int[] pos = positions(T);
    for (int b = 0; b < B; b++) {
      int src = (rowOffset + b) * (full + 1);
      for (int i = 0; i < T; i++) {
        int at = pos == null ? i : pos[i];
        int in = tokens[src + at];
        int tg = tokens[src + at + 1];
        if (in < 0 || in >= V || tg < 0 || tg >= V) {
          throw new dev.weft.WeftInputException("token id " + (in < 0 || in >= V ? in : tg)
              + " is outside the model's vocabulary [0, " + V + ").");
        }
        act.inputs[b * T + i] = in;
        act.targets[b * T + i] = tg;
      }
    }
  }

  /**
   * Token + position embedding into {@code act.encoded} (this rank's R rows): a vocabulary-parallel lookup
   * summed over the TP group (ReduceFromTp, or ReduceScatterToSp under sequence parallelism), plus wpe.
   */
  public void embedForward(Activations act) {
    int B = act.B, T = act.T, C = config.dModel();
    int N = B * T;
    int R = tp.rows(N);
    int row0 = tp.rowStart(N);
    Segment e = store.params(0);
    store.prefetch(firstPresentBlock() + 1);
    int[] pos = positions(T);
    if (tp.size() == 1 && pos == null) {
      Encoder.forward(act.encoded, act.inputs, e.array(), e.at(layout.offset("wte.weight")), e.array(),
          e.at(layout.offset("wpe.weight")), B, T, C, 0);
    } else {
      VocabParallel.embed(act.dtmp, act.inputs, e.array(), e.at(layout.offset("wte.weight")), layout.vocabStart(),
          layout.localVocab(), N, C);
      if (tp.sp()) {
        Regions.ReduceScatterToSp.forward(tp, act.dtmp, act.encoded, R * C);
      } else {
        Regions.ReduceFromTp.forward(tp, act.dtmp, 0, N * C);
        System.arraycopy(act.dtmp, 0, act.encoded, 0, N * C);
      }
      float[] w = e.array();
      int wpe = e.at(layout.offset("wpe.weight"));
      for (int r = 0; r < R; r++) {
        int at = (row0 + r) % T;
        int p = pos == null ? at : pos[at];
        for (int j = 0; j < C; j++) act.encoded[r * C + j] += w[wpe + p * C + j];
      }
    }
    store.releaseParams(0);
  }

  private int firstPresentBlock() {
    for (int l = 0; l < config.layers(); l++) if (layout.hasLayer(l)) return l;
    return config.layers();
  }

  /** Blocks [from, to) forward; block {@code from} reads {@code act.encoded}, block l writes {@code act.res3[l]}. */
  public void blocksForward(Activations act, int from, int to) {
    for (int l = from; l < to; l++) {
      int r = ParameterLayout.blockRegion(l);
      Segment s = store.params(r);
      store.prefetch(r + 1);
      blockForward(act, l, l == from ? act.encoded : act.res3[l - 1], s);
      store.releaseParams(r);
    }
  }

  /** Block l forward from x [R,C] with its parameters in {@code s}: fills its activations and act.res3[l]. */
  private void blockForward(Activations act, int l, float[] x, Segment s) {
    int B = act.B, T = act.T, C = config.dModel();
    int N = B * T;
    int t = tp.size();
    int cl = C / t, fl = 4 * C / t, nhl = config.heads() / t;
    int R = tp.rows(N);
    float[] p = s.array();
    float[] rowOut = tp.sp() ? act.rowOut : act.dtmp;
    LayerNorm.forward(cx, act.ln1[l], act.ln1Mean[l], act.ln1Rstd[l], x,
        p, s.at(layout.offset(l, "ln_1.weight")), p, s.at(layout.offset(l, "ln_1.bias")), R, C);
    ColumnParallelLinear.forward(cx, tp, act.qkv[l], act.ln1[l], act.full, p, s.at(layout.offset(l, "attn.c_attn.weight")),
        p, s.at(layout.offset(l, "attn.c_attn.bias")), N, C, 3 * cl);
    if (cpAttention == null) {
      BlockAttention.forward(cx, act.atty[l], act.lse[l], act.qkv[l], B, T, cl, nhl);
    } else {
      cpAttention.forward(cx, cp, act.atty[l], act.lse[l], act.qkv[l], B, T, cl, nhl, positions(T));
    }
    RowParallelLinear.forward(cx, tp, rowOut, act.dtmp, act.atty[l], p, s.at(layout.offset(l, "attn.c_proj.weight")),
        p, s.at(layout.offset(l, "attn.c_proj.bias")), N, cl, C);
    Residual.forward(cx, act.res2[l], x, rowOut, R * C);
    LayerNorm.forward(cx, act.ln2[l], act.ln2Mean[l], act.ln2Rstd[l], act.res2[l],
        p, s.at(layout.offset(l, "ln_2.weight")), p, s.at(layout.offset(l, "ln_2.bias")), R, C);
    ColumnParallelLinear.forward(cx, tp, act.fch[l], act.ln2[l], act.full, p, s.at(layout.offset(l, "mlp.c_fc.weight")),
        p, s.at(layout.offset(l, "mlp.c_fc.bias")), N, C, fl);
    Gelu.forward(cx, act.fchGelu[l], act.fch[l], N * fl);
    RowParallelLinear.forward(cx, tp, rowOut, act.dtmp, act.fchGelu[l], p, s.at(layout.offset(l, "mlp.c_proj.weight")),
        p, s.at(layout.offset(l, "mlp.c_proj.bias")), N, fl, C);
    Residual.forward(cx, act.res3[l], act.res2[l], rowOut, R * C);
  }

  /** Final LayerNorm on {@code act.res3[L-1]}, the (vocabulary-parallel) logits and the loss. */
  public float headForward(Activations act, float lossScale) {
    int B = act.B, T = act.T, C = config.dModel(), V = config.vocab();
    int N = B * T;
    int R = tp.rows(N);
    int vl = layout.localVocab();
    int L = config.layers();
    int fr = layout.finalRegion();
    Segment f = store.params(fr);
    store.prefetch(0);
    LayerNorm.forward(cx, act.lnf, act.lnfMean, act.lnfRstd, act.res3[L - 1],
        f.array(), f.at(layout.offset("ln_f.weight")), f.array(), f.at(layout.offset("ln_f.bias")), R, C);
    store.releaseParams(fr);
    // logits [N, Vl] = lnf [N, C] wte_local^T (the rank's vocabulary columns; never gathered)
    float[] lnfFull = act.lnf;
    if (tp.sp()) {
      Regions.GatherFromSp.forward(tp, act.lnf, act.full, R * C);
      lnfFull = act.full;
    }
    Segment w = store.params(0);
    cx.gemm(false, true, N, vl, C, lnfFull, 0, C, w.array(), w.at(layout.offset("wte.weight")), C, 0f, act.logits, 0, vl);
    store.releaseParams(0);
    VocabParallel.crossEntropy(cx, tp, act.losses, act.logits, act.targets, N, V, vl, layout.vocabStart(), lossScale);
    double sum = 0;
    for (int i = 0; i < N; i++) sum += act.losses[i];
    return (float) (sum / N);
  }

  /**
   * From the logits' gradient (left in {@code act.logits} by {@link #headForward}) to {@code act.dres} =
   * d res3[L-1]. With {@code deferWeights} the tied wte's gradient from the logits is left for
   * {@link #headWeightBackward} (zero-bubble schedules run it later).
   */
  public void headBackward(Activations act, boolean deferWeights) {
    int B = act.B, T = act.T, C = config.dModel();
    int N = B * T;
    int R = tp.rows(N);
    int vl = layout.localVocab();
    int L = config.layers();
    float[] dlnRows = tp.sp() ? act.dlnRows : act.dln;
    Segment w = store.params(0);
    int fr = layout.finalRegion();
    store.prefetch(fr);
    int wte = layout.offset("wte.weight");
    // d lnf = dlogits wte_local (summed over the group: CopyToTp / GatherFromSp backward)
    cx.gemm(false, false, N, C, vl, act.logits, 0, vl, w.array(), w.at(wte), C, 0f, act.dln, 0, C);
    store.releaseParams(0);
    if (!deferWeights) headWeightBackward(act);
    if (tp.sp()) {
      Regions.GatherFromSp.backward(tp, act.dln, act.dlnRows, R * C);
    } else {
      Regions.CopyToTp.backward(tp, act.dln, 0, N * C);
    }
    Arrays.fill(act.dres, 0f);
    Segment pf = store.params(fr);
    store.prefetch(ParameterLayout.blockRegion(L - 1));
    Segment gf = store.grads(fr);
    LayerNorm.backward(cx, act.dres, gf.array(), gf.at(layout.offset("ln_f.weight")), gf.array(),
        gf.at(layout.offset("ln_f.bias")), dlnRows, act.res3[L - 1], pf.array(), pf.at(layout.offset("ln_f.weight")),
        act.lnfMean, act.lnfRstd, R, C);
    store.releaseParams(fr);
    reduceReplicatedGrads(gf, "ln_f.weight", "ln_f.bias");
    store.gradsDone(fr);
  }

  /** d wte_local += dlogits^T lnf (the logits' weight gradient). */
  public void headWeightBackward(Activations act) {
    int N = act.B * act.T, C = config.dModel();
    int vl = layout.localVocab();
    float[] lnfFull = act.lnf;
    if (tp.sp()) {
      Regions.GatherFromSp.forward(tp, act.lnf, act.full, tp.rows(N) * C);
      lnfFull = act.full;
    }
    Segment gw = store.grads(0);
    cx.gemm(true, false, vl, C, N, act.logits, 0, vl, lnfFull, 0, C, 1f, gw.array(), gw.at(layout.offset("wte.weight")), C);
  }

  /**
   * Blocks [to-1 .. from] backward from {@code act.dres} (= d res3[to-1]); leaves d x of block {@code from}
   * in {@code act.dres}. With {@code deferWeights} the four weight matrices' gradients are left for
   * {@link #blocksWeightBackward} (their output gradients are kept in {@code act} until then). Under
   * recomputation ({@code act.recompute}) each block's forward runs again, on the parameters this pass
   * fetches anyway, just before its backward.
   */
  public void blocksBackward(Activations act, int from, int to, boolean deferWeights) {
    if (deferWeights && act.recompute) {
      throw new IllegalStateException("a deferred weight pass needs every block's activations, which recomputation drops");
    }
    int B = act.B, T = act.T, C = config.dModel();
    int N = B * T;
    int t = tp.size();
    int cl = C / t, fl = 4 * C / t, nhl = config.heads() / t;
    int R = tp.rows(N);
    float[] dlnRows = tp.sp() ? act.dlnRows : act.dln;
    for (int l = to - 1; l >= from; l--) {
      int r = ParameterLayout.blockRegion(l);
      Segment s = store.params(r);
      if (l > from) store.prefetch(r - 1);
      Segment gs = store.grads(r);
      float[] p = s.array();
      float[] g = gs.array();
      float[] x = l == from ? act.encoded : act.res3[l - 1];
      if (act.recompute) blockForward(act, l, x, s);
      Deferred d = deferWeights ? act.deferred(l, N, C, cl, fl) : null;
      // res3 = res2 + mlp(ln2(res2)): dres flows to res2 unchanged; the MLP branch adds into it.
      Arrays.fill(act.dfchGelu, 0f);
      RowParallelLinear.backward(cx, tp, act.dres, act.dfull, act.dfchGelu, d != null ? null : g,
          gs.at(layout.offset(l, "mlp.c_proj.weight")), g, gs.at(layout.offset(l, "mlp.c_proj.bias")), act.fchGelu[l], p,
          s.at(layout.offset(l, "mlp.c_proj.weight")), N, fl, C, d != null ? d.dMlpProj : null);
      Arrays.fill(act.dfch, 0f);
      Gelu.backward(cx, act.dfch, act.fch[l], act.dfchGelu, N * fl);
      if (d != null) System.arraycopy(act.dfch, 0, d.dFc, 0, N * fl);
      ColumnParallelLinear.backward(cx, tp, act.dln, dlnRows, d != null ? null : g, gs.at(layout.offset(l, "mlp.c_fc.weight")),
          g, gs.at(layout.offset(l, "mlp.c_fc.bias")), act.dfch, d != null ? null : gatheredInput(act, act.ln2[l], R, C), p,
          s.at(layout.offset(l, "mlp.c_fc.weight")), N, C, fl);
      LayerNorm.backward(cx, act.dres, g, gs.at(layout.offset(l, "ln_2.weight")), g, gs.at(layout.offset(l, "ln_2.bias")),
          dlnRows, act.res2[l], p, s.at(layout.offset(l, "ln_2.weight")), act.ln2Mean[l], act.ln2Rstd[l], R, C);
      // res2 = x + attn(ln1(x)): likewise.
      Arrays.fill(act.datty, 0f);
      RowParallelLinear.backward(cx, tp, act.dres, act.dfull, act.datty, d != null ? null : g,
          gs.at(layout.offset(l, "attn.c_proj.weight")), g, gs.at(layout.offset(l, "attn.c_proj.bias")), act.atty[l], p,
          s.at(layout.offset(l, "attn.c_proj.weight")), N, cl, C, d != null ? d.dAttnProj : null);
      Arrays.fill(act.dqkv, 0f);
      if (cpAttention == null) {
        BlockAttention.backward(cx, act.dqkv, act.datty, act.qkv[l], act.atty[l], act.lse[l], B, T, cl, nhl);
      } else {
        cpAttention.backward(cx, cp, act.dqkv, act.datty, act.qkv[l], act.atty[l], act.lse[l], B, T, cl, nhl, positions(T));
      }
      if (d != null) System.arraycopy(act.dqkv, 0, d.dQkv, 0, N * 3 * cl);
      ColumnParallelLinear.backward(cx, tp, act.dln, dlnRows, d != null ? null : g, gs.at(layout.offset(l, "attn.c_attn.weight")),
          g, gs.at(layout.offset(l, "attn.c_attn.bias")), act.dqkv, d != null ? null : gatheredInput(act, act.ln1[l], R, C), p,
          s.at(layout.offset(l, "attn.c_attn.weight")), N, C, 3 * cl);
      LayerNorm.backward(cx, act.dres, g, gs.at(layout.offset(l, "ln_1.weight")), g, gs.at(layout.offset(l, "ln_1.bias")),
          dlnRows, x, p, s.at(layout.offset(l, "ln_1.weight")), act.ln1Mean[l], act.ln1Rstd[l], R, C);
      store.releaseParams(r);
      reduceReplicatedBlockGrads(gs, l);
      if (d == null) store.gradsDone(r);
    }
  }

  /**
   * The deferred weight gradients of blocks [from, to) (zero-bubble W pass): dW += x^T dY for c_attn,
   * attn.c_proj, mlp.c_fc and mlp.c_proj from the output gradients kept by {@link #blocksBackward}.
   */
  public void blocksWeightBackward(Activations act, int from, int to) {
    int N = act.B * act.T, C = config.dModel();
    int cl = C / tp.size(), fl = 4 * C / tp.size();
    int R = tp.rows(N);
    for (int l = to - 1; l >= from; l--) {
      int r = ParameterLayout.blockRegion(l);
      Deferred d = act.takeDeferred(l);
      Segment gs = store.grads(r);
      float[] g = gs.array();
      Linear.backwardWeight(cx, g, gs.at(layout.offset(l, "mlp.c_proj.weight")), null, 0, d.dMlpProj, act.fchGelu[l], N, fl, C);
      Linear.backwardWeight(cx, g, gs.at(layout.offset(l, "mlp.c_fc.weight")), null, 0, d.dFc,
          gatheredInput(act, act.ln2[l], R, C), N, C, fl);
      Linear.backwardWeight(cx, g, gs.at(layout.offset(l, "attn.c_proj.weight")), null, 0, d.dAttnProj, act.atty[l], N, cl, C);
      Linear.backwardWeight(cx, g, gs.at(layout.offset(l, "attn.c_attn.weight")), null, 0, d.dQkv,
          gatheredInput(act, act.ln1[l], R, C), N, C, 3 * cl);
      d.close();
      store.gradsDone(r);
    }
  }

  /** Embedding backward from {@code act.dres} (= d encoded): wte rows of the tokens and wpe rows of the positions. */
  public void embedBackward(Activations act) {
    int B = act.B, T = act.T, C = config.dModel();
    int N = B * T;
    int R = tp.rows(N);
    int row0 = tp.rowStart(N);
    Segment gw = store.grads(0);
    int wte = layout.offset("wte.weight");
    int[] pos = positions(T);
    if (tp.size() == 1 && pos == null) {
      Encoder.backward(gw.array(), gw.at(wte), gw.array(), gw.at(layout.offset("wpe.weight")), act.dres, act.inputs,
          B, T, C, 0);
    } else {
      float[] g = gw.array();
      int wpe = gw.at(layout.offset("wpe.weight"));
      for (int r = 0; r < R; r++) {
        int at = (row0 + r) % T;
        int p = pos == null ? at : pos[at];
        for (int j = 0; j < C; j++) g[wpe + p * C + j] += act.dres[r * C + j];
      }
      float[] dEmb = act.dres;
      if (tp.sp()) {
        Regions.ReduceScatterToSp.backward(tp, act.dres, act.dfull, R * C);
        dEmb = act.dfull;
      }
      VocabParallel.embedBackward(g, gw.at(wte), dEmb, act.inputs, layout.vocabStart(), layout.localVocab(), N, C);
    }
    reduceReplicatedGrads(gw, "wpe.weight");
  }

  /** The embeddings' gradients (region 0) are complete for this micro-batch. */
  public void embeddingGradsDone() {
    store.gradsDone(0);
  }

  /** The full-row input of a column-parallel layer for backward: re-gathered under sequence parallelism. */
  private float[] gatheredInput(Activations act, float[] rows, int R, int C) {
    if (!tp.sp()) return rows;
    Regions.GatherFromSp.forward(tp, rows, act.full, R * C);
    return act.full;
  }

  /** A block's parameters every TP rank holds whole (so under SP each computed from its own rows only). */
  private static final String[] REPLICATED_IN_BLOCK = {"ln_1.weight", "ln_1.bias", "attn.c_proj.bias", "ln_2.weight",
      "ln_2.bias", "mlp.c_proj.bias"};

  /**
   * Under sequence parallelism every rank computed the replicated parameters' gradients (LayerNorms, wpe,
   * the row-parallel biases) from its own rows only: sum them over the group, once per accumulation.
   */
  private void reduceReplicatedGrads(Segment g, String... names) {
    if (!tp.sp() || !store.reduceGradsNow()) return;
    for (String n : names) sumOverTp(g, layout.get(n));
  }

  /** {@link #reduceReplicatedGrads} for block l's replicated parameters, looked up without building names. */
  private void reduceReplicatedBlockGrads(Segment g, int l) {
    if (!tp.sp() || !store.reduceGradsNow()) return;
    for (String n : REPLICATED_IN_BLOCK) sumOverTp(g, layout.param(l, n));
  }

  private void sumOverTp(Segment g, ParameterLayout.Param p) {
    tp.group().allReduce(g.array(), g.at(p.offset()), p.size(), dev.weft.comm.ReduceOp.SUM);
  }

  @Override
  public void close() {
    store.close();
  }
}
