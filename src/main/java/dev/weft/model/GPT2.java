package dev.weft.model;

import dev.weft.kernels.Attention;
import dev.weft.kernels.Compute;
import dev.weft.kernels.CrossEntropy;
import dev.weft.kernels.Encoder;
import dev.weft.kernels.Gelu;
import dev.weft.kernels.LayerNorm;
import dev.weft.kernels.Linear;
import dev.weft.kernels.Residual;
import dev.weft.tensor.DeviceMemory;
import dev.weft.model.WeightStore.Segment;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * GPT-2 on one device, with an explicit forward and backward (llm.c style). Pre-LayerNorm blocks:
 * {@code x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))}, learned position embeddings, fused qkv, causal
 * softmax attention scaled by 1/sqrt(hs), MLP 4C wide with tanh-GELU, final LayerNorm, logits by the
 * tied token embedding ({@code logits = ln_f(x) wte^T}).
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

  /** A model with all weights resident on one device. */
  public GPT2(GPT2Config config, Compute cx, DeviceMemory memory) {
    this(new ParameterLayout(config), cx, memory, null);
  }

  /** A model reading its weights through {@code store} (which it closes). */
  public GPT2(ParameterLayout layout, Compute cx, DeviceMemory memory, WeightStore store) {
    this.config = layout.config();
    this.layout = layout;
    this.cx = cx;
    this.memory = memory;
    this.flat = store == null ? new FlatWeights(layout, memory) : (store instanceof FlatWeights f ? f : null);
    this.store = store == null ? flat : store;
  }

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
        for (int i = off; i < hi; i++) {
          float v = (float) (rng.nextGaussian() * std);
          if (i >= lo) dst[i - from] = v;
        }
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
    if (T > config.context()) {
      throw new dev.weft.WeftInputException("sequence length " + T + " is longer than the model's context "
          + config.context() + ".");
    }
    return new Activations(memory, config, B, T, config.vocab());
  }

  /**
   * Forward over {@code tokens} (B rows of T+1 ids starting at row {@code rowOffset} of a [rows, T+1]
   * array): inputs are the first T of each row, targets the last T. Returns the mean loss over the B*T
   * positions. If {@code lossScale} is not NaN, also leaves d(lossScale * sum of losses)/d logits in
   * {@code act.logits}, ready for {@link #backward}.
   */
  public float forward(Activations act, int[] tokens, int rowOffset, float lossScale) {
    int B = act.B, T = act.T, C = config.dModel(), NH = config.heads(), V = config.vocab();
    int N = B * T;
    for (int b = 0; b < B; b++) {
      int src = (rowOffset + b) * (T + 1);
      for (int t = 0; t < T; t++) {
        int in = tokens[src + t];
        int tg = tokens[src + t + 1];
        if (in < 0 || in >= V || tg < 0 || tg >= V) {
          throw new dev.weft.WeftInputException("token id " + (in < 0 || in >= V ? in : tg)
              + " is outside the model's vocabulary [0, " + V + ").");
        }
        act.inputs[b * T + t] = in;
        act.targets[b * T + t] = tg;
      }
    }
    int L = config.layers();
    Segment e = store.params(0);
    store.prefetch(1);
    Encoder.forward(act.encoded, act.inputs, e.array(), e.at(layout.offset("wte.weight")), e.array(),
        e.at(layout.offset("wpe.weight")), B, T, C, 0);
    store.releaseParams(0);
    for (int l = 0; l < L; l++) {
      int r = ParameterLayout.blockRegion(l);
      Segment s = store.params(r);
      store.prefetch(r + 1);
      float[] p = s.array();
      float[] x = l == 0 ? act.encoded : act.res3[l - 1];
      LayerNorm.forward(cx, act.ln1[l], act.ln1Mean[l], act.ln1Rstd[l], x,
          p, s.at(layout.offset(l, "ln_1.weight")), p, s.at(layout.offset(l, "ln_1.bias")), N, C);
      Linear.forward(cx, act.qkv[l], act.ln1[l], p, s.at(layout.offset(l, "attn.c_attn.weight")),
          p, s.at(layout.offset(l, "attn.c_attn.bias")), N, C, 3 * C);
      Attention.forward(cx, act.atty[l], act.att[l], act.qkv[l], B, T, C, NH);
      Linear.forward(cx, act.dtmp, act.atty[l], p, s.at(layout.offset(l, "attn.c_proj.weight")),
          p, s.at(layout.offset(l, "attn.c_proj.bias")), N, C, C);
      Residual.forward(cx, act.res2[l], x, act.dtmp, N * C);
      LayerNorm.forward(cx, act.ln2[l], act.ln2Mean[l], act.ln2Rstd[l], act.res2[l],
          p, s.at(layout.offset(l, "ln_2.weight")), p, s.at(layout.offset(l, "ln_2.bias")), N, C);
      Linear.forward(cx, act.fch[l], act.ln2[l], p, s.at(layout.offset(l, "mlp.c_fc.weight")),
          p, s.at(layout.offset(l, "mlp.c_fc.bias")), N, C, 4 * C);
      Gelu.forward(cx, act.fchGelu[l], act.fch[l], N * 4 * C);
      Linear.forward(cx, act.dtmp, act.fchGelu[l], p, s.at(layout.offset(l, "mlp.c_proj.weight")),
          p, s.at(layout.offset(l, "mlp.c_proj.bias")), N, 4 * C, C);
      Residual.forward(cx, act.res3[l], act.res2[l], act.dtmp, N * C);
      store.releaseParams(r);
    }
    int fr = layout.finalRegion();
    Segment f = store.params(fr);
    store.prefetch(0);
    LayerNorm.forward(cx, act.lnf, act.lnfMean, act.lnfRstd, act.res3[L - 1],
        f.array(), f.at(layout.offset("ln_f.weight")), f.array(), f.at(layout.offset("ln_f.bias")), N, C);
    store.releaseParams(fr);
    // logits [N,V] = lnf [N,C] wte^T
    Segment w = store.params(0);
    cx.gemm(false, true, N, V, C, act.lnf, 0, C, w.array(), w.at(layout.offset("wte.weight")), C, 0f, act.logits, 0, V);
    store.releaseParams(0);
    if (Float.isNaN(lossScale)) {
      CrossEntropy.forward(cx, act.losses, act.logits, act.targets, N, V, V);
    } else {
      CrossEntropy.forwardBackward(cx, act.losses, act.logits, act.targets, N, V, V, lossScale);
    }
    double sum = 0;
    for (int i = 0; i < N; i++) sum += act.losses[i];
    return (float) (sum / N);
  }

  /** Backward after {@link #forward} with a loss scale; accumulates into the gradients. */
  public void backward(Activations act) {
    int B = act.B, T = act.T, C = config.dModel(), NH = config.heads(), V = config.vocab();
    int N = B * T;
    int L = config.layers();
    float[] dlogits = act.logits;
    // dlnf = dlogits wte ; dwte += dlogits^T lnf
    Segment w = store.params(0);
    int fr = layout.finalRegion();
    store.prefetch(fr);
    Segment gw = store.grads(0);
    int wte = layout.offset("wte.weight");
    cx.gemm(false, false, N, C, V, dlogits, 0, V, w.array(), w.at(wte), C, 0f, act.dln, 0, C);
    cx.gemm(true, false, V, C, N, dlogits, 0, V, act.lnf, 0, C, 1f, gw.array(), gw.at(wte), C);
    store.releaseParams(0);
    Arrays.fill(act.dres, 0f);
    Segment pf = store.params(fr);
    store.prefetch(ParameterLayout.blockRegion(L - 1));
    Segment gf = store.grads(fr);
    LayerNorm.backward(cx, act.dres, gf.array(), gf.at(layout.offset("ln_f.weight")), gf.array(),
        gf.at(layout.offset("ln_f.bias")), act.dln, act.res3[L - 1], pf.array(), pf.at(layout.offset("ln_f.weight")),
        act.lnfMean, act.lnfRstd, N, C);
    store.releaseParams(fr);
    store.gradsDone(fr);
    for (int l = L - 1; l >= 0; l--) {
      int r = ParameterLayout.blockRegion(l);
      Segment s = store.params(r);
      if (l > 0) store.prefetch(r - 1);
      Segment gs = store.grads(r);
      float[] p = s.array();
      float[] g = gs.array();
      float[] x = l == 0 ? act.encoded : act.res3[l - 1];
      // res3 = res2 + mlp(ln2(res2)): dres flows to res2 unchanged; the MLP branch adds into it.
      Arrays.fill(act.dfchGelu, 0f);
      Linear.backward(cx, act.dfchGelu, g, gs.at(layout.offset(l, "mlp.c_proj.weight")), g, gs.at(layout.offset(l, "mlp.c_proj.bias")),
          act.dres, act.fchGelu[l], p, s.at(layout.offset(l, "mlp.c_proj.weight")), N, 4 * C, C);
      Arrays.fill(act.dfch, 0f);
      Gelu.backward(cx, act.dfch, act.fch[l], act.dfchGelu, N * 4 * C);
      Arrays.fill(act.dln, 0f);
      Linear.backward(cx, act.dln, g, gs.at(layout.offset(l, "mlp.c_fc.weight")), g, gs.at(layout.offset(l, "mlp.c_fc.bias")),
          act.dfch, act.ln2[l], p, s.at(layout.offset(l, "mlp.c_fc.weight")), N, C, 4 * C);
      LayerNorm.backward(cx, act.dres, g, gs.at(layout.offset(l, "ln_2.weight")), g, gs.at(layout.offset(l, "ln_2.bias")),
          act.dln, act.res2[l], p, s.at(layout.offset(l, "ln_2.weight")), act.ln2Mean[l], act.ln2Rstd[l], N, C);
      // res2 = x + attn(ln1(x)): likewise.
      Arrays.fill(act.datty, 0f);
      Linear.backward(cx, act.datty, g, gs.at(layout.offset(l, "attn.c_proj.weight")), g, gs.at(layout.offset(l, "attn.c_proj.bias")),
          act.dres, act.atty[l], p, s.at(layout.offset(l, "attn.c_proj.weight")), N, C, C);
      Arrays.fill(act.dqkv, 0f);
      Attention.backward(cx, act.dqkv, act.datty, act.qkv[l], act.att[l], B, T, C, NH);
      Arrays.fill(act.dln, 0f);
      Linear.backward(cx, act.dln, g, gs.at(layout.offset(l, "attn.c_attn.weight")), g, gs.at(layout.offset(l, "attn.c_attn.bias")),
          act.dqkv, act.ln1[l], p, s.at(layout.offset(l, "attn.c_attn.weight")), N, C, 3 * C);
      LayerNorm.backward(cx, act.dres, g, gs.at(layout.offset(l, "ln_1.weight")), g, gs.at(layout.offset(l, "ln_1.bias")),
          act.dln, x, p, s.at(layout.offset(l, "ln_1.weight")), act.ln1Mean[l], act.ln1Rstd[l], N, C);
      store.releaseParams(r);
      store.gradsDone(r);
    }
    Encoder.backward(gw.array(), gw.at(wte), gw.array(), gw.at(layout.offset("wpe.weight")), act.dres, act.inputs,
        B, T, C, 0);
    store.gradsDone(0);
  }

  @Override
  public void close() {
    store.close();
  }
}
