package dev.weft.decoder;

import dev.weft.WeftInputException;
import dev.weft.comm.ReduceOp;
import dev.weft.decoder.Activations.Deferred;
import dev.weft.kernels.BlockAttention;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Encoder;
import dev.weft.kernels.Gelu;
import dev.weft.kernels.Heads;
import dev.weft.kernels.LayerNorm;
import dev.weft.kernels.Linear;
import dev.weft.kernels.Residual;
import dev.weft.kernels.RmsNorm;
import dev.weft.kernels.Rope;
import dev.weft.kernels.SwiGlu;
import dev.weft.kernels.WeightLayout;
import dev.weft.model.FlatWeights;
import dev.weft.model.LinearSpec;
import dev.weft.model.MlpSpec;
import dev.weft.model.ModelSpec;
import dev.weft.model.NormSpec;
import dev.weft.model.ParamSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.model.TpSplit;
import dev.weft.model.WeightStore;
import dev.weft.model.WeightStore.Segment;
import dev.weft.parallel.cp.ContextParallel;
import dev.weft.parallel.cp.CpAttention;
import dev.weft.parallel.tp.ColumnParallelLinear;
import dev.weft.parallel.tp.Regions;
import dev.weft.parallel.tp.RowParallelLinear;
import dev.weft.parallel.tp.TensorParallel;
import dev.weft.parallel.tp.VocabParallel;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A decoder-only transformer on one rank, computed from its {@link ModelSpec}, with an explicit forward and
 * backward (llm.c style). Pre-norm blocks {@code h = x + attn(norm1(x)); y = h + mlp(norm2(h))}; norms are
 * LayerNorm or RMSNorm, positions learned (added at the embedding) or rotary (applied to q and k), attention
 * causal over query heads that share K/V heads in groups (grouped-query attention), the MLP gated or not,
 * linear weights stored [in, out] or [out, in]; then the final norm and the logits by the head (the token
 * embedding when tied). Attention is blockwise with the online softmax ({@link BlockAttention}): no T x T
 * score matrix is ever held.
 *
 * <p>The same code runs every layout: tensor parallelism (column-parallel q|k|v and MLP input, row-parallel
 * output projections, vocabulary-parallel embedding, head and loss; Megatron sequence parallelism between
 * them), context parallelism (this rank's rows of every sequence, attention over the group), and
 * parameters reached region by region through a {@link WeightStore} (resident on one device; sharded and
 * gathered under ZeRO), addressed by {@link ParameterLayout} offsets. Backward accumulates into the
 * gradients, so micro-batches accumulate until the store's gradients are zeroed.
 */
public final class Decoder implements AutoCloseable {
  private final ModelSpec spec;
  private final ParameterLayout layout;
  private final Compute cx;
  private final DeviceMemory memory;
  private final WeightStore store;
  private final FlatWeights flat;
  private final TensorParallel tp;
  private final ContextParallel cp;
  private final CpAttention cpAttention;
  /** This rank's heads (H/t query, KV/t key/value). */
  private final Heads heads;
  private final Rope rope;
  private final Names n;
  private final boolean layerNorm;
  private final boolean gated;
  /** Block parameters every TP rank holds whole (summed over the group under sequence parallelism). */
  private final String[] replicatedInBlock;

  /** The suffixes of a block's parameters the computation reads (first weight/bias of each linear). */
  private record Names(String norm1W, String norm1B, String qkvW, String qkvB, String projW, String projB,
                       String norm2W, String norm2B, String fcW, String fcB, String fc2W, String fc2B,
                       WeightLayout qkvLayout, WeightLayout projLayout, WeightLayout fcLayout, WeightLayout fc2Layout,
                       float eps1, float eps2, float epsF, String finalW, String finalB) {}

  /** A model with all weights resident on one device. */
  public static Decoder onOneDevice(ModelSpec spec, Compute cx, DeviceMemory memory) {
    ParameterLayout layout = new ParameterLayout(spec);
    return new Decoder(layout, cx, memory, new FlatWeights(layout, memory), TensorParallel.NONE, ContextParallel.NONE);
  }

  /** A model reading its weights through {@code store} (which it closes), without TP or CP. */
  public Decoder(ParameterLayout layout, Compute cx, DeviceMemory memory, WeightStore store) {
    this(layout, cx, memory, store, TensorParallel.NONE, ContextParallel.NONE);
  }

  /**
   * A rank's share of the model ({@code layout} must be this tensor-parallel rank's local layout) reading its
   * weights through {@code store} (which it closes). With context parallelism every sequence's T tokens are
   * split over the CP group, this rank holding the rows at {@code cp.positions(T)}; attention exchanges keys
   * and values over the group (ring, or all-to-all head exchange); everything else is local to the rows.
   */
  public Decoder(ParameterLayout layout, Compute cx, DeviceMemory memory, WeightStore store, TensorParallel tp,
                 ContextParallel cp) {
    if (layout.tp() != tp.size() || layout.tpRank() != tp.rank()) {
      throw new IllegalArgumentException("layout is for tp rank " + layout.tpRank() + " of " + layout.tp()
          + " but the group is rank " + tp.rank() + " of " + tp.size());
    }
    this.spec = layout.spec();
    this.layout = layout;
    this.cx = cx;
    this.memory = memory;
    this.tp = tp;
    this.cp = cp;
    this.store = store;
    this.flat = store instanceof FlatWeights f ? f : null;
    this.heads = new Heads(spec.heads() / tp.size(), spec.kvHeads() / tp.size(), spec.headDim());
    this.rope = spec.attention().rotary() ? new Rope(spec.headDim(), spec.context(), spec.attention().ropeTheta()) : null;
    this.layerNorm = spec.block().norm1().kind() == NormSpec.Kind.LAYER_NORM;
    this.gated = spec.mlp().gated();
    var b = spec.block();
    LinearSpec qkv = b.attention().qkv(), proj = b.attention().out(), fc = b.mlp().in(), fc2 = b.mlp().out();
    this.n = new Names(b.norm1().weight(), b.norm1().bias(), qkv.weights().get(0), first(qkv.biases()),
        proj.weights().get(0), first(proj.biases()), b.norm2().weight(), b.norm2().bias(), fc.weights().get(0),
        first(fc.biases()), fc2.weights().get(0), first(fc2.biases()), qkv.layout(), proj.layout(), fc.layout(),
        fc2.layout(), b.norm1().eps(), b.norm2().eps(), spec.finalNorm().eps(), spec.finalNorm().weight(),
        spec.finalNorm().bias());
    List<String> replicated = new ArrayList<>();
    for (ParamSpec p : spec.params()) {
      if (p.layer() == 0 && p.split() instanceof TpSplit.Replicated) {
        replicated.add(p.name().substring(spec.layerPrefix(0).length()));
      }
    }
    this.replicatedInBlock = replicated.toArray(new String[0]);
    checkFusedWeightsContiguous();
    this.cpAttention = cp.size() > 1 ? cp.attention(new BufferPool(memory)) : null;
  }

  private static String first(List<String> names) {
    return names.isEmpty() ? null : names.get(0);
  }

  /** Weights (and biases) fused into one matrix must sit back to back in the local flat buffer. */
  private void checkFusedWeightsContiguous() {
    var b = spec.block();
    for (int l = 0; l < spec.layers(); l++) {
      if (!layout.hasLayer(l)) continue;
      for (LinearSpec s : List.of(b.attention().qkv(), b.attention().out(), b.mlp().in(), b.mlp().out())) {
        for (List<String> group : List.of(s.weights(), s.biases())) {
          for (int i = 1; i < group.size(); i++) {
            ParameterLayout.Param prev = layout.param(l, group.get(i - 1)), next = layout.param(l, group.get(i));
            if (next.offset() != prev.offset() + prev.size()) {
              throw new IllegalStateException(next.name() + " does not follow " + prev.name() + " in the flat layout");
            }
          }
        }
      }
    }
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

  public ModelSpec spec() { return spec; }
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
    Arrays.fill(grads(), 0f);
  }

  /** Initialises resident weights (see {@link dev.weft.model.Initializer}). */
  public void initialize(long seed) {
    dev.weft.model.Initializer.initialize(layout, seed, params());
  }

  /** The shapes of this rank's activations for micro-batches of B sequences of T positions. */
  public ActivationShapes shapes(int B, int T) {
    checkMicroBatch(B, T);
    return new ActivationShapes(spec, B, T, tp.size(), tp.sp());
  }

  /** Activations for every block and the head, on a workspace of their own. */
  public Activations newActivations(int B, int T) {
    return newActivations(B, T, false);
  }

  /** As above; with {@code recompute}, blocks keep only their outputs and backward recomputes the rest. */
  public Activations newActivations(int B, int T, boolean recompute) {
    ActivationShapes s = shapes(B, T);
    boolean[] all = new boolean[spec.layers()];
    Arrays.fill(all, true);
    return new Activations(memory, s, all, true, new Workspace(memory, s, recompute), true, null);
  }

  /**
   * Activations for one pipeline chunk's blocks ({@code layers}) and the head's buffers when it runs the
   * head, on a workspace the caller shares between its micro-batches; arrays from {@code pool}.
   */
  public Activations newStageActivations(int B, int T, boolean[] layers, boolean head, Workspace ws, BufferPool pool) {
    return new Activations(memory, shapes(B, T), layers, head, ws, false, pool);
  }

  /** A workspace for micro-batches of B sequences of T tokens on this rank, charged to this device. */
  public Workspace newWorkspace(int B, int T, boolean recompute) {
    return new Workspace(memory, shapes(B, T), recompute);
  }

  private void checkMicroBatch(int B, int T) {
    if (T * cp.size() > spec.context()) {
      throw new WeftInputException("sequence length " + T * cp.size() + " is longer than the model's context "
          + spec.context() + ".");
    }
    if (tp.sp() && (B * T) % tp.size() != 0) {
      throw new WeftInputException("sequence parallelism splits the " + B * T + " rows of a micro-batch ("
          + B + " x " + T + ") over --tp " + tp.size() + " ranks, which needs a multiple of " + tp.size()
          + "; change --micro-batch or the context.");
    }
  }

  /**
   * Forward over {@code tokens} (B rows of T+1 ids starting at row {@code rowOffset} of a [rows, T+1]
   * array): inputs are the first T of each row, targets the last T. Returns the mean loss over the B*T
   * positions (the same on every tensor-parallel rank). If {@code lossScale} is not NaN, also leaves
   * d(lossScale * sum of losses)/d logits in {@code act.logits}, ready for {@link #backward}.
   */
  public float forward(Activations act, int[] tokens, int rowOffset, float lossScale) {
    loadTokens(act, tokens, rowOffset);
    embedForward(act);
    blocksForward(act, 0, spec.layers());
    return headForward(act, lossScale);
  }

  /** Backward after {@link #forward} with a loss scale; accumulates into the gradients. */
  public void backward(Activations act) {
    headBackward(act, false);
    blocksBackward(act, 0, spec.layers(), false);
    embedBackward(act);
    embeddingGradsDone();
  }

  /** Takes the micro-batch's inputs (first T of each row) and targets (last T) from [rows, T+1] token ids. */
  public void loadTokens(Activations act, int[] tokens, int rowOffset) {
    int B = act.B, T = act.T, V = spec.vocab();
    int full = T * cp.size();
    int[] pos = positions(T);
    for (int b = 0; b < B; b++) {
      int src = (rowOffset + b) * (full + 1);
      for (int i = 0; i < T; i++) {
        int at = pos == null ? i : pos[i];
        int in = tokens[src + at];
        int tg = tokens[src + at + 1];
        if (in < 0 || in >= V || tg < 0 || tg >= V) {
          throw new WeftInputException("token id " + (in < 0 || in >= V ? in : tg)
              + " is outside the model's vocabulary [0, " + V + ").");
        }
        act.inputs[b * T + i] = in;
        act.targets[b * T + i] = tg;
      }
    }
  }

  /**
   * Token (+ learned position) embedding into {@code act.encoded} (this rank's R rows): a vocabulary-parallel
   * lookup summed over the TP group (ReduceFromTp, or ReduceScatterToSp under sequence parallelism).
   */
  public void embedForward(Activations act) {
    int B = act.B, T = act.T, C = spec.dModel();
    int N = B * T;
    int R = tp.rows(N);
    int row0 = tp.rowStart(N);
    Segment e = store.params(0);
    store.prefetch(firstPresentBlock() + 1);
    int[] pos = positions(T);
    String wpeName = spec.positionEmbedding();
    int wte = e.at(layout.offset(spec.tokenEmbedding()));
    if (tp.size() == 1 && pos == null && wpeName != null) {
      Encoder.forward(act.encoded, act.inputs, e.array(), wte, e.array(), e.at(layout.offset(wpeName)), B, T, C, 0);
    } else {
      if (tp.size() == 1) {
        VocabParallel.embed(act.encoded, act.inputs, e.array(), wte, 0, layout.localVocab(), N, C);
      } else {
        VocabParallel.embed(act.dtmp, act.inputs, e.array(), wte, layout.vocabStart(), layout.localVocab(), N, C);
        if (tp.sp()) {
          Regions.ReduceScatterToSp.forward(tp, act.dtmp, act.encoded, R * C);
        } else {
          Regions.ReduceFromTp.forward(tp, act.dtmp, 0, N * C);
          System.arraycopy(act.dtmp, 0, act.encoded, 0, N * C);
        }
      }
      if (wpeName != null) {
        float[] w = e.array();
        int wpe = e.at(layout.offset(wpeName));
        for (int r = 0; r < R; r++) {
          int at = (row0 + r) % T;
          int p = pos == null ? at : pos[at];
          for (int j = 0; j < C; j++) act.encoded[r * C + j] += w[wpe + p * C + j];
        }
      }
    }
    store.releaseParams(0);
  }

  private int firstPresentBlock() {
    for (int l = 0; l < spec.layers(); l++) if (layout.hasLayer(l)) return l;
    return spec.layers();
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

  private int at(Segment s, int l, String suffix) {
    return suffix == null ? 0 : s.at(layout.offset(l, suffix));
  }

  private void normForward(float[] out, float[] mean, float[] rstd, float[] x, float[] p, Segment s, int l, String w,
                           String b, float eps, int R, int C) {
    if (layerNorm) {
      LayerNorm.forward(cx, out, mean, rstd, x, p, at(s, l, w), p, at(s, l, b), R, C, eps);
    } else {
      RmsNorm.forward(cx, out, rstd, x, p, at(s, l, w), R, C, eps);
    }
  }

  private void normBackward(float[] dinp, float[] g, Segment gs, int l, String w, String b, float[] dout, float[] x,
                            float[] p, Segment s, float[] mean, float[] rstd, int R, int C) {
    if (layerNorm) {
      LayerNorm.backward(cx, dinp, g, at(gs, l, w), g, at(gs, l, b), dout, x, p, at(s, l, w), mean, rstd, R, C);
    } else {
      RmsNorm.backward(cx, dinp, g, at(gs, l, w), dout, x, p, at(s, l, w), rstd, R, C);
    }
  }

  /**
   * Block l forward from x [R,C] with its parameters in {@code s}: fills its activations and act.res3[l].
   * Per block (R = this rank's rows of the residual stream, N = B T): {@code ln1 = norm1(x)} [R,C];
   * {@code qkv = ColumnParallel(ln1)} [N,Wqkv], q and k rotated under rotary positions; {@code atty =}
   * attention over the rank's heads [N,Wa]; {@code res2 = x + RowParallel(atty)} [R,C]; then the MLP the same
   * way with the activation (GELU, or SiLU-gated) between its two projections.
   */
  private void blockForward(Activations act, int l, float[] x, Segment s) {
    int B = act.B, T = act.T, C = spec.dModel();
    int N = B * T;
    ActivationShapes sh = act.shapes;
    int R = tp.rows(N);
    float[] p = s.array();
    float[] rowOut = tp.sp() ? act.rowOut : act.dtmp;
    normForward(act.ln1[l], act.ln1Mean[l], act.ln1Rstd[l], x, p, s, l, n.norm1W, n.norm1B, n.eps1, R, C);
    ColumnParallelLinear.forward(cx, tp, act.qkv[l], act.ln1[l], act.full, p, at(s, l, n.qkvW), n.qkvLayout,
        n.qkvB == null ? null : p, at(s, l, n.qkvB), N, C, sh.qkvWidth);
    if (rope != null) rope.apply(cx, act.qkv[l], N, sh.qkvWidth, 0, heads.q() + heads.kv(), T, positions(T), false);
    if (cpAttention == null) {
      BlockAttention.forward(cx, act.atty[l], act.lse[l], act.qkv[l], B, T, heads);
    } else {
      cpAttention.forward(cx, cp, act.atty[l], act.lse[l], act.qkv[l], B, T, heads, positions(T));
    }
    RowParallelLinear.forward(cx, tp, rowOut, act.dtmp, act.atty[l], p, at(s, l, n.projW), n.projLayout,
        n.projB == null ? null : p, at(s, l, n.projB), N, sh.attWidth, C);
    Residual.forward(cx, act.res2[l], x, rowOut, R * C);
    normForward(act.ln2[l], act.ln2Mean[l], act.ln2Rstd[l], act.res2[l], p, s, l, n.norm2W, n.norm2B, n.eps2, R, C);
    ColumnParallelLinear.forward(cx, tp, act.fch[l], act.ln2[l], act.full, p, at(s, l, n.fcW), n.fcLayout,
        n.fcB == null ? null : p, at(s, l, n.fcB), N, C, sh.fcInWidth);
    if (gated) {
      SwiGlu.forward(cx, act.fact[l], act.fch[l], N, sh.fcOutWidth);
    } else {
      Gelu.forward(cx, act.fact[l], act.fch[l], N * sh.fcOutWidth);
    }
    RowParallelLinear.forward(cx, tp, rowOut, act.dtmp, act.fact[l], p, at(s, l, n.fc2W), n.fc2Layout,
        n.fc2B == null ? null : p, at(s, l, n.fc2B), N, sh.fcOutWidth, C);
    Residual.forward(cx, act.res3[l], act.res2[l], rowOut, R * C);
  }

  /** Final norm on {@code act.res3[L-1]}, the (vocabulary-parallel) logits and the loss. */
  public float headForward(Activations act, float lossScale) {
    int B = act.B, T = act.T, C = spec.dModel(), V = spec.vocab();
    int N = B * T;
    int R = tp.rows(N);
    int vl = layout.localVocab();
    int L = spec.layers();
    int fr = layout.finalRegion();
    boolean tied = spec.tied();
    Segment f = store.params(fr);
    if (tied) store.prefetch(0);
    float[] fp = f.array();
    if (layerNorm) {
      LayerNorm.forward(cx, act.lnf, act.lnfMean, act.lnfRstd, act.res3[L - 1], fp, f.at(layout.offset(n.finalW)), fp,
          f.at(layout.offset(n.finalB)), R, C, n.epsF);
    } else {
      RmsNorm.forward(cx, act.lnf, act.lnfRstd, act.res3[L - 1], fp, f.at(layout.offset(n.finalW)), R, C, n.epsF);
    }
    // logits [N, Vl] = lnf [N, C] head_local^T (the rank's vocabulary rows; never gathered)
    float[] lnfFull = act.lnf;
    if (tied) store.releaseParams(fr);
    if (tp.sp()) {
      Regions.GatherFromSp.forward(tp, act.lnf, act.full, R * C);
      lnfFull = act.full;
    }
    Segment w = tied ? store.params(0) : f;
    cx.gemm(false, true, N, vl, C, lnfFull, 0, C, w.array(), w.at(layout.offset(spec.head())), C, 0f, act.logits, 0, vl);
    store.releaseParams(tied ? 0 : fr);
    VocabParallel.crossEntropy(cx, tp, act.losses, act.logits, act.targets, N, V, vl, layout.vocabStart(), lossScale);
    double sum = 0;
    for (int i = 0; i < N; i++) sum += act.losses[i];
    return (float) (sum / N);
  }

  /**
   * From the logits' gradient (left in {@code act.logits} by {@link #headForward}) to {@code act.dres} =
   * d res3[L-1]. With {@code deferWeights} the head weight's gradient from the logits is left for
   * {@link #headWeightBackward} (zero-bubble schedules run it later).
   */
  public void headBackward(Activations act, boolean deferWeights) {
    int B = act.B, T = act.T, C = spec.dModel();
    int N = B * T;
    int R = tp.rows(N);
    int vl = layout.localVocab();
    int L = spec.layers();
    float[] dlnRows = tp.sp() ? act.dlnRows : act.dln;
    int hr = layout.headRegion();
    int fr = layout.finalRegion();
    Segment w = store.params(hr);
    if (hr != fr) store.prefetch(fr);
    // d lnf = dlogits head_local (summed over the group: CopyToTp / GatherFromSp backward)
    cx.gemm(false, false, N, C, vl, act.logits, 0, vl, w.array(), w.at(layout.offset(spec.head())), C, 0f, act.dln, 0, C);
    if (hr != fr) store.releaseParams(hr);
    if (!deferWeights) headWeightBackward(act);
    if (tp.sp()) {
      Regions.GatherFromSp.backward(tp, act.dln, act.dlnRows, R * C);
    } else {
      Regions.CopyToTp.backward(tp, act.dln, 0, N * C);
    }
    Arrays.fill(act.dres, 0f);
    Segment pf = hr == fr ? w : store.params(fr);
    store.prefetch(ParameterLayout.blockRegion(L - 1));
    Segment gf = store.grads(fr);
    float[] pa = pf.array(), ga = gf.array();
    if (layerNorm) {
      LayerNorm.backward(cx, act.dres, ga, gf.at(layout.offset(n.finalW)), ga, gf.at(layout.offset(n.finalB)), dlnRows,
          act.res3[L - 1], pa, pf.at(layout.offset(n.finalW)), act.lnfMean, act.lnfRstd, R, C);
    } else {
      RmsNorm.backward(cx, act.dres, ga, gf.at(layout.offset(n.finalW)), dlnRows, act.res3[L - 1], pa,
          pf.at(layout.offset(n.finalW)), act.lnfRstd, R, C);
    }
    store.releaseParams(fr);
    // An untied head's gradient is in this region: it is done only once the head's weight pass has run. The
    // replicated gradients are summed over TP just before the region is declared done (a deferred region may
    // accumulate several micro-batches' input passes first).
    if (spec.tied() || !deferWeights) {
      reduceReplicatedGrads(gf, n.finalW, n.finalB);
      store.gradsDone(fr);
    }
  }

  /** d head_local += dlogits^T lnf (the logits' weight gradient). */
  public void headWeightBackward(Activations act) {
    int N = act.B * act.T, C = spec.dModel();
    int vl = layout.localVocab();
    float[] lnfFull = act.lnf;
    if (tp.sp()) {
      Regions.GatherFromSp.forward(tp, act.lnf, act.full, tp.rows(N) * C);
      lnfFull = act.full;
    }
    Segment gw = store.grads(layout.headRegion());
    cx.gemm(true, false, vl, C, N, act.logits, 0, vl, lnfFull, 0, C, 1f, gw.array(), gw.at(layout.offset(spec.head())),
        C);
  }

  /** After a deferred {@link #headWeightBackward} of an untied head: the final region's gradients are done. */
  public void headWeightsDone() {
    if (spec.tied()) return;
    int fr = layout.finalRegion();
    reduceReplicatedGrads(store.grads(fr), n.finalW, n.finalB);
    store.gradsDone(fr);
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
    int B = act.B, T = act.T, C = spec.dModel();
    int N = B * T;
    ActivationShapes sh = act.shapes;
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
      Deferred d = deferWeights ? act.deferred(l) : null;
      // res3 = res2 + mlp(norm2(res2)): dres flows to res2 unchanged; the MLP branch adds into it.
      Arrays.fill(act.dfact, 0f);
      RowParallelLinear.backward(cx, tp, act.dres, act.dfull, act.dfact, d != null ? null : g, at(gs, l, n.fc2W),
          n.fc2B == null ? null : g, at(gs, l, n.fc2B), act.fact[l], p, at(s, l, n.fc2W), n.fc2Layout, N,
          sh.fcOutWidth, C, d != null ? d.dMlpProj : null);
      Arrays.fill(act.dfch, 0f);
      if (gated) {
        SwiGlu.backward(cx, act.dfch, act.fch[l], act.dfact, N, sh.fcOutWidth);
      } else {
        Gelu.backward(cx, act.dfch, act.fch[l], act.dfact, N * sh.fcOutWidth);
      }
      if (d != null) System.arraycopy(act.dfch, 0, d.dFc, 0, N * sh.fcInWidth);
      ColumnParallelLinear.backward(cx, tp, act.dln, dlnRows, d != null ? null : g, at(gs, l, n.fcW),
          n.fcB == null ? null : g, at(gs, l, n.fcB), act.dfch, d != null ? null : gatheredInput(act, act.ln2[l], R, C),
          p, at(s, l, n.fcW), n.fcLayout, N, C, sh.fcInWidth);
      normBackward(act.dres, g, gs, l, n.norm2W, n.norm2B, dlnRows, act.res2[l], p, s, act.ln2Mean[l], act.ln2Rstd[l],
          R, C);
      // res2 = x + attn(norm1(x)): likewise.
      Arrays.fill(act.datty, 0f);
      RowParallelLinear.backward(cx, tp, act.dres, act.dfull, act.datty, d != null ? null : g, at(gs, l, n.projW),
          n.projB == null ? null : g, at(gs, l, n.projB), act.atty[l], p, at(s, l, n.projW), n.projLayout, N,
          sh.attWidth, C, d != null ? d.dAttnProj : null);
      Arrays.fill(act.dqkv, 0f);
      if (cpAttention == null) {
        BlockAttention.backward(cx, act.dqkv, act.datty, act.qkv[l], act.atty[l], act.lse[l], B, T, heads);
      } else {
        cpAttention.backward(cx, cp, act.dqkv, act.datty, act.qkv[l], act.atty[l], act.lse[l], B, T, heads,
            positions(T));
      }
      if (rope != null) rope.apply(cx, act.dqkv, N, sh.qkvWidth, 0, heads.q() + heads.kv(), T, positions(T), true);
      if (d != null) System.arraycopy(act.dqkv, 0, d.dQkv, 0, N * sh.qkvWidth);
      ColumnParallelLinear.backward(cx, tp, act.dln, dlnRows, d != null ? null : g, at(gs, l, n.qkvW),
          n.qkvB == null ? null : g, at(gs, l, n.qkvB), act.dqkv,
          d != null ? null : gatheredInput(act, act.ln1[l], R, C), p, at(s, l, n.qkvW), n.qkvLayout, N, C,
          sh.qkvWidth);
      normBackward(act.dres, g, gs, l, n.norm1W, n.norm1B, dlnRows, x, p, s, act.ln1Mean[l], act.ln1Rstd[l], R, C);
      store.releaseParams(r);
      if (d == null) {
        reduceReplicatedBlockGrads(gs, l);
        store.gradsDone(r);
      }
    }
  }

  /**
   * The deferred weight gradients of blocks [from, to) (zero-bubble W pass): dW += x^T dY (or dY^T x) for the
   * q|k|v, attention output, MLP input and MLP output weights, from the output gradients kept by
   * {@link #blocksBackward}.
   */
  public void blocksWeightBackward(Activations act, int from, int to) {
    int N = act.B * act.T, C = spec.dModel();
    ActivationShapes sh = act.shapes;
    int R = tp.rows(N);
    for (int l = to - 1; l >= from; l--) {
      int r = ParameterLayout.blockRegion(l);
      Deferred d = act.takeDeferred(l);
      Segment gs = store.grads(r);
      float[] g = gs.array();
      Linear.backwardWeight(cx, g, at(gs, l, n.fc2W), n.fc2Layout, null, 0, d.dMlpProj, act.fact[l], N, sh.fcOutWidth,
          C);
      Linear.backwardWeight(cx, g, at(gs, l, n.fcW), n.fcLayout, null, 0, d.dFc, gatheredInput(act, act.ln2[l], R, C),
          N, C, sh.fcInWidth);
      Linear.backwardWeight(cx, g, at(gs, l, n.projW), n.projLayout, null, 0, d.dAttnProj, act.atty[l], N, sh.attWidth,
          C);
      Linear.backwardWeight(cx, g, at(gs, l, n.qkvW), n.qkvLayout, null, 0, d.dQkv,
          gatheredInput(act, act.ln1[l], R, C), N, C, sh.qkvWidth);
      d.close();
      reduceReplicatedBlockGrads(gs, l);
      store.gradsDone(r);
    }
  }

  /** Embedding backward from {@code act.dres} (= d encoded): token rows of the inputs and learned positions. */
  public void embedBackward(Activations act) {
    embedBackward(act, true);
  }

  /**
   * As above; {@code sumPositionsNow} false leaves the sequence-parallel sum of the learned positions'
   * gradient over the TP group for {@link #sumEmbeddingGradsOverTp} (a pipeline keeps the embeddings' gradient
   * accumulating over all its micro-batches, so the sum must run once, at the end of the step).
   */
  public void embedBackward(Activations act, boolean sumPositionsNow) {
    int B = act.B, T = act.T, C = spec.dModel();
    int N = B * T;
    int R = tp.rows(N);
    int row0 = tp.rowStart(N);
    Segment gw = store.grads(0);
    int wte = gw.at(layout.offset(spec.tokenEmbedding()));
    int[] pos = positions(T);
    String wpeName = spec.positionEmbedding();
    if (tp.size() == 1 && pos == null && wpeName != null) {
      Encoder.backward(gw.array(), wte, gw.array(), gw.at(layout.offset(wpeName)), act.dres, act.inputs, B, T, C, 0);
    } else {
      float[] g = gw.array();
      if (wpeName != null) {
        int wpe = gw.at(layout.offset(wpeName));
        for (int r = 0; r < R; r++) {
          int at = (row0 + r) % T;
          int p = pos == null ? at : pos[at];
          for (int j = 0; j < C; j++) g[wpe + p * C + j] += act.dres[r * C + j];
        }
      }
      float[] dEmb = act.dres;
      if (tp.sp()) {
        Regions.ReduceScatterToSp.backward(tp, act.dres, act.dfull, R * C);
        dEmb = act.dfull;
      }
      VocabParallel.embedBackward(g, wte, dEmb, act.inputs, layout.vocabStart(), layout.localVocab(), N, C);
    }
    if (wpeName != null && sumPositionsNow) reduceReplicatedGrads(gw, wpeName);
  }

  /** The deferred sum of {@link #embedBackward(Activations, boolean)}: learned positions over the TP group. */
  public void sumEmbeddingGradsOverTp() {
    String wpe = spec.positionEmbedding();
    if (tp.sp() && layout.hasEmbedding() && wpe != null) sumOverTp(store.grads(0), layout.get(wpe));
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

  /**
   * Under sequence parallelism every rank computed the replicated parameters' gradients (norms, learned
   * positions, the row-parallel biases) from its own rows only: sum them over the group, once per accumulation.
   */
  private void reduceReplicatedGrads(Segment g, String... names) {
    if (!tp.sp() || !store.reduceGradsNow()) return;
    for (String name : names) if (name != null) sumOverTp(g, layout.get(name));
  }

  /** {@link #reduceReplicatedGrads} for block l's replicated parameters, looked up without building names. */
  private void reduceReplicatedBlockGrads(Segment g, int l) {
    if (!tp.sp() || !store.reduceGradsNow()) return;
    for (String suffix : replicatedInBlock) sumOverTp(g, layout.param(l, suffix));
  }

  /**
   * Sums, over the tensor-parallel group, the gradients every rank computed from its own rows under sequence
   * parallelism (norms, learned positions, row-parallel biases) for every region this rank holds: what a store
   * that defers its reduction to the end of a step (a pipeline at ZeRO 0-1, whose micro-batches all run with
   * {@code reduceGradsNow()} false) needs once, after the last micro-batch and before the data-parallel sync.
   */
  public void sumReplicatedGradsOverTp() {
    if (!tp.sp()) return;
    for (int l = 0; l < spec.layers(); l++) {
      if (!layout.hasLayer(l)) continue;
      Segment g = store.grads(ParameterLayout.blockRegion(l));
      for (String suffix : replicatedInBlock) sumOverTp(g, layout.param(l, suffix));
    }
    if (layout.hasHead()) {
      Segment g = store.grads(layout.finalRegion());
      for (String name : new String[] {n.finalW, n.finalB}) if (name != null) sumOverTp(g, layout.get(name));
    }
    sumEmbeddingGradsOverTp();
  }

  private void sumOverTp(Segment g, ParameterLayout.Param p) {
    tp.group().allReduce(g.array(), g.at(p.offset()), p.size(), ReduceOp.SUM);
  }

  @Override
  public void close() {
    store.close();
  }
}
