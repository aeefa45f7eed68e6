package dev.weft.plan;

import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParamSpec;
import dev.weft.parallel.cp.ContextParallel;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;

/**
 * Bytes per device for a {@link Job} under a {@link Layout}: model states, activations, buffers.
 * Symbols: L layers, h = C width, a heads, s = T context, V vocab, b micro-batch, t = tp, p = pp,
 * c = cp, d = dp, v virtual stages, m micro-batches per step.
 *
 * <p><b>Parameters on a device</b> ({@link ModelDims} for any shape: grouped-query attention, gated MLPs, untied
 * heads; GPT-2 here). A layer has 12h^2 + 13h parameters; TP splits the column- and
 * row-parallel weights and the column biases (12h^2 + 7h) and replicates the rest (6h: two LayerNorms,
 * two row biases) (Shoeybi et al. 2019, "Megatron-LM", section 3). A device of stage i holds
 * ceil(L/(p v)) v layers; the first stage also holds the vocabulary-parallel token embedding Vh/t and
 * the position embedding sh; the last holds the final LayerNorm 2h and, when p > 1, its own copy of the
 * tied output embedding Vh/t (Narayanan et al. 2021, section 3.2 footnote on tied embeddings).
 *
 * <p><b>Model states</b> for Phi parameters, bytes per parameter w + g + o from {@link Precision},
 * sharded over the DP x CP group of n = d c devices (ZeRO, Rajbhandari et al. 2020, section 5,
 * Figure 1): stage 0: (w+g+o) Phi; stage 1: (w+g) Phi + o Phi/n; stage 2: w Phi + (g+o) Phi/n;
 * stage 3: (w+g+o) Phi/n. In fp32 (4+4+8): 16P, 8P + 8P/n, 4P + 12P/n, 16P/n.
 *
 * <p><b>Activations, paper model</b> ({@link ActivationModel#KORTHIKANTI}, {@link #activationLayerBytes} for any
 * shape and attention kernel; 16-bit activations with 1-byte dropout masks; Korthikanti et al. 2022, section 4, equations 1-5 and Table 2), bytes per layer
 * per micro-batch: no parallelism sbh(34 + 5as/h); TP sbh(10 + 24/t + 5as/(ht)); TP + SP
 * (sbh/t)(34 + 5as/h); selective recomputation 34sbh/t with SP, sbh(10 + 24/t) without; full
 * recomputation 2sbh (2sbh/t with SP: the stored layer input is sequence-sharded). Context parallelism
 * divides all of it by c (each rank keeps s/c queries against all s keys, so even the 5as^2 b term
 * shrinks by c; the same holds for all-to-all CP, which keeps a/c heads over all s). Outside the layers
 * (section 4.3): first stage 3sbh (embedding output and its dropout mask), last stage 2sbh (final
 * LayerNorm input) + 4sbV/t (fp32 logits for the loss), with SP the h-sized terms /t.
 *
 * <p><b>Activations, Weft runtime model</b> ({@link ActivationModel#WEFT_RUNTIME}, fp32, what
 * {@link dev.weft.decoder.Activations} allocates; at t = p = c = 1 equal to
 * {@link dev.weft.decoder.ActivationShapes#totalFloats}). With N = b s / c local tokens, floats per layer per
 * micro-batch: ln1, ln2, res2, res3 4NC (replicated under TP, /t with SP); atty NC/t, qkv 3NC/t,
 * fch + fchGelu 8NC/t (sharded by TP); LayerNorm means and rstds 4N (/t with SP); attention's
 * log-sum-exps NH N / t (attention is blockwise: no T x T scores). Sum: 16NC + 4N + NH N at t = 1. Outside layers per micro-batch: first
 * stage encoded NC; last stage lnf NC, its stats 2N, logits N Vp/t, losses N. Backward scratch, once
 * per device: dres, dln, dtmp 3NC (replicated), datty NC/t, dqkv 3NC/t, dfch + dfchGelu 8NC/t:
 * 15NC at t = 1. Selective recomputation drops the NH N term; full keeps the layer input NC.
 * Recomputation also needs one block's activations (less what it keeps) once per device during
 * backward ({@link #runtimeWorkingBytes}).
 *
 * <p><b>Pipeline stash</b>: a stage keeps the activations of the micro-batches in flight
 * ({@link #inFlightMicroBatches}): GPipe m (Huang et al. 2019); 1F1B min(m, p - i) on stage i
 * (Narayanan et al. 2021, section 2.2.1); interleaved (p - i) + (p - 1)/v, i.e. stage 0 holds
 * p(1 + (p-1)/(pv)) micro-batches' worth of its layers (Korthikanti et al. 2022, section 4.2.3);
 * ZB-H1 the same as 1F1B (Qi et al. 2023, section 3.1). The worst of the first and the last stage is
 * reported.
 *
 * <p><b>Communication buffers</b> (assumptions, stated): pipeline send/receive 4 bsh/(c t_sp) x bytes
 * (send and receive, forward and backward; t_sp = t with SP, else 1); TP one gathered bsh/c tensor;
 * CP ring double-buffered K,V blocks 4 bsh/(ct); DP gradient buckets 2 x 25 MiB (PyTorch DDP's default
 * bucket_cap_mb = 25); ZeRO-3 two layers' gathered weights (prefetch).
 */
public final class MemoryModel {
  private MemoryModel() {
  }

  /** Which activation formula to use. */
  public enum ActivationModel {
    /** Korthikanti et al. 2022 (16-bit activations). The default for bf16. */
    KORTHIKANTI,
    /** What Weft's fp32 runtime allocates. The default for fp32. */
    WEFT_RUNTIME;

    public static ActivationModel defaultFor(Precision p) {
      return p == Precision.BF16 ? KORTHIKANTI : WEFT_RUNTIME;
    }
  }

  /** Bytes on the worst device, by category; {@code stage} is the pipeline stage it belongs to. */
  public record Breakdown(long weights, long gradients, long optimizer, long activations, long embeddingLogits,
                          long backwardScratch, long commBuffers, int stage) {
    public long modelStates() {
      return weights + gradients + optimizer;
    }

    public long total() {
      return weights + gradients + optimizer + activations + embeddingLogits + backwardScratch + commBuffers;
    }
  }

  static final long DDP_BUCKET_BYTES = 25L << 20;

  // ---- parameters -----------------------------------------------------------------------------------

  /** Layers on the busiest device: ceil(L / (p v)) v, at most L. */
  public static int layersPerDevice(int layers, int pp, int v) {
    int chunks = pp * Math.max(1, v);
    return Math.min(layers, ceilDiv(layers, chunks) * Math.max(1, v));
  }

  /** Parameters of one layer on one TP rank: the split part / t + the replicated part ({@link ModelDims}). */
  public static long layerParamsPerDevice(ModelDims ms, int tp) {
    return ceilDiv(ms.layerSplitParams(), tp) + ms.layerReplicatedParams();
  }

  /** GPT-2: (12h^2 + 7h)/t split + 6h replicated. */
  public static long layerParamsPerDevice(long h, int tp) {
    return ceilDiv(12 * h * h + 7 * h, tp) + 6 * h;
  }

  /** Parameters a device of the given stage holds (see the class comment). */
  public static long stageParams(ModelSpec m, int tp, int pp, int v, int stage) {
    return stageParams(ModelDims.of(m), tp, pp, v, stage);
  }

  /**
   * Parameters a device of the given stage holds: its layers; the first stage the vocabulary-parallel token
   * embedding V h / t and any learned positions s h; the last the final norm and the output head V h / t (the
   * tied copy when p > 1, the separate head when untied).
   */
  public static long stageParams(ModelDims ms, int tp, int pp, int v, int stage) {
    long h = ms.hidden();
    long params = layersPerDevice(ms.layers(), pp, v) * layerParamsPerDevice(ms, tp);
    long vocabEmbedding = ceilDiv(ms.embeddingParams(), tp);
    if (stage == 0) params += vocabEmbedding + ms.positionParams();
    boolean ownHead = !ms.tiedEmbeddings() || pp > 1;
    if (stage == pp - 1) params += ms.finalNormParams() + (ownHead ? vocabEmbedding : 0);
    return params;
  }

  /**
   * Weights, gradients and optimizer state of {@code params} parameters under a ZeRO stage over
   * {@code shards} devices: returns {w, g, o} in bytes.
   */
  public static long[] modelStateBytes(long params, Precision precision, int zero, int shards) {
    long w = params * precision.weightBytes;
    long g = params * precision.gradBytes;
    long o = params * precision.optimizerBytes;
    if (zero >= 1) o = ceilDiv(o, shards);
    if (zero >= 2) g = ceilDiv(g, shards);
    if (zero >= 3) w = ceilDiv(w, shards);
    return new long[] {w, g, o};
  }

  // ---- activations: Korthikanti et al. 2022 ---------------------------------------------------------

  /**
   * Korthikanti et al. 2022's count (section 4, 16-bit activations, 1-byte dropout masks) for any
   * {@link ModelDims}, bytes per layer per micro-batch, divided by cp. Kept whole on every TP rank (/t only with
   * SP): the two norms' inputs 4sbh, the q,k,v and first-MLP inputs 2sbh each, dropout masks 2sbh (when the model
   * uses dropout): 8sbh + 2sbh. Split by TP: Q 2sbh, K and V 2 sb kd each, the output projection's input 2sbh, the
   * MLP's inside 4sbf (activation input and output) or 6sbf gated (gate, up and their product). The scores
   * 5 a s^2 b (softmax output 2, dropout mask 1, dropout output 2; 2 a s^2 b without dropout) only when the
   * attention kernel materializes them; FlashAttention keeps none. For GPT-2 this is 34sbh + 5as^2b, and with TP
   * sbh(10 + 24/t + 5as/(ht)). Selective recomputation drops the scores; full keeps the layer input 2sbh (/t with
   * SP).
   */
  public static double activationLayerBytes(ModelDims ms, AttentionKernel ak, long s, long b, int t, boolean sp,
                                            int cp, Recompute r) {
    double sb = (double) s * b, h = ms.hidden(), f = ms.ffn();
    double replicated = sb * h * (8 + (ms.dropout() ? 2 : 0));
    double split = sb * (4 * h + 4 * ms.kvDim()) + (ms.gated() ? 6 : 4) * sb * f;
    double scores = ak == AttentionKernel.MATERIALIZED ? (ms.dropout() ? 5.0 : 2.0) * ms.heads() * sb * s : 0;
    double keep = r == Recompute.NONE ? scores : 0;
    double bytes = switch (r) {
      case NONE, SELECTIVE -> t == 1 ? replicated + split + keep
          : sp ? (replicated + split + keep) / t : replicated + (split + keep) / t;
      case FULL -> sp ? 2 * sb * h / t : 2 * sb * h;
    };
    return bytes / cp;
  }

  /** Korthikanti et al. 2022, section 4-5: bytes per layer per micro-batch (16-bit), divided by cp. */
  public static double korthikantiLayerBytes(long s, long b, long h, long a, int t, boolean sp, int cp,
                                             Recompute r) {
    double sbh = (double) s * b * h;
    double scores = 5.0 * a * s * s * b; // sbh * 5as/h
    double bytes = switch (r) {
      case NONE -> t == 1 ? 34 * sbh + scores
          : sp ? (34 * sbh + scores) / t
          : 10 * sbh + 24 * sbh / t + scores / t;
      case SELECTIVE -> t == 1 ? 34 * sbh : sp ? 34 * sbh / t : 10 * sbh + 24 * sbh / t;
      case FULL -> sp ? 2 * sbh / t : 2 * sbh;
    };
    return bytes / cp;
  }

  // ---- activations: the Weft runtime (fp32) ---------------------------------------------------------

  /** The runtime's activation shapes of one rank ({@link ActivationShapes}): b sequences of s / cp positions. */
  static ActivationShapes shapes(ModelSpec m, long b, long s, int t, boolean sp, int cp) {
    return new ActivationShapes(m, (int) b, (int) (s / cp), t, sp);
  }

  /** Weft runtime: bytes of one layer's stored activations for one micro-batch ({@link ActivationShapes}). */
  public static long runtimeLayerBytes(ModelSpec m, long b, long s, int t, boolean sp, int cp, Recompute r) {
    ActivationShapes a = shapes(m, b, s, t, sp, cp);
    long floats = switch (r) {
      case NONE -> a.layerFloats();
      case SELECTIVE -> a.layerFloats() - a.lse();
      case FULL -> a.recomputedLayerFloats();
    };
    return floats * Float.BYTES;
  }

  /**
   * Weft runtime: the one block of activations a device keeps for recomputing (once per device, in its
   * {@link dev.weft.model.Workspace}): a layer's activations less what each block keeps anyway.
   */
  public static long runtimeWorkingBytes(ModelSpec m, long b, long s, int t, boolean sp, int cp, Recompute r) {
    if (r == Recompute.NONE) return 0;
    return runtimeLayerBytes(m, b, s, t, sp, cp, Recompute.NONE) - runtimeLayerBytes(m, b, s, t, sp, cp, r);
  }

  /**
   * Weft runtime: the most a context-parallel attention call holds at once (taken from the rank's buffer
   * pool and given back within the call): {@link ContextParallel#bufferFloats} for this rank's heads. 0
   * without CP.
   */
  public static long runtimeCpTransientBytes(ModelSpec m, long b, long s, int t, int cp, CpAlgorithm algorithm) {
    if (cp <= 1) return 0;
    ActivationShapes a = shapes(m, b, s, t, false, cp);
    ContextParallel.Method method = algorithm == CpAlgorithm.RING ? ContextParallel.Method.RING
        : ContextParallel.Method.ALLTOALL;
    return ContextParallel.bufferFloats(method, cp, a.B, a.T, a.heads) * Float.BYTES;
  }

  /** Weft runtime: bytes outside the layers for one micro-batch on the first and/or last stage. */
  public static long runtimeOutsideBytes(ModelSpec m, long b, long s, int paddedVocab, int t, boolean sp, int cp,
                                         boolean first, boolean last) {
    ActivationShapes a = shapes(m, b, s, t, sp, cp);
    return ((first ? a.embeddingFloats() : 0) + (last ? a.headFloats() : 0)) * Float.BYTES;
  }

  /** Weft runtime: backward scratch of one rank ({@link ActivationShapes#scratchFloats}). */
  public static long runtimeScratchBytes(ModelSpec m, long b, long s, int t, boolean sp, int cp) {
    return shapes(m, b, s, t, sp, cp).scratchFloats() * Float.BYTES;
  }

  /**
   * Weft runtime: all activation bytes of one device of a pipeline stage holding {@code layers}
   * layers with {@code inFlight} micro-batches stashed. At t = p = c = 1, inFlight = 1, no recompute,
   * this is exactly {@link dev.weft.decoder.ActivationShapes#totalFloats}.
   */
  public static long runtimeActivationBytes(ModelSpec m, int microBatch, int seq, int paddedVocab, int layers,
                                            int t, boolean sp, int cp, Recompute r, double inFlight,
                                            boolean first, boolean last) {
    long perLayer = runtimeLayerBytes(m, microBatch, seq, t, sp, cp, r);
    long outside = runtimeOutsideBytes(m, microBatch, seq, paddedVocab, t, sp, cp, first, last);
    long scratch = runtimeScratchBytes(m, microBatch, seq, t, sp, cp);
    long working = runtimeWorkingBytes(m, microBatch, seq, t, sp, cp, r);
    return Math.round(inFlight * (layers * perLayer + outside)) + scratch + working;
  }

  /** The single-device case of the runtime model, for comparison with Activations.bytesFor. */
  public static long runtimeActivationBytes(ModelSpec m, int microBatch, int seq, int paddedVocab) {
    return runtimeActivationBytes(m, microBatch, seq, paddedVocab, m.layers(), 1, false, 1, Recompute.NONE, 1,
        true, true);
  }

  // ---- pipeline stash --------------------------------------------------------------------------------

  /** Micro-batches whose activations stage {@code stage} keeps at its peak (class comment). */
  public static double inFlightMicroBatches(Schedule schedule, int p, int m, int v, int stage) {
    if (p <= 1) return 1;
    double k = switch (schedule) {
      case NONE -> 1;
      case GPIPE -> m;
      case ONE_F_ONE_B, ZB_H1 -> p - stage;
      case INTERLEAVED -> (p - stage) + (p - 1) / (double) Math.max(1, v);
    };
    return Math.min(m, k);
  }

  // ---- the whole device --------------------------------------------------------------------------------

  public static Breakdown estimate(Job job, Layout layout) {
    return estimate(job, layout, ActivationModel.defaultFor(job.precision()));
  }

  /** The worst device (first or last pipeline stage) for this job and layout. */
  public static Breakdown estimate(Job job, Layout layout, ActivationModel am) {
    Breakdown first = stage(job, layout, am, 0);
    if (layout.pp() == 1) return first;
    Breakdown last = stage(job, layout, am, layout.pp() - 1);
    return last.total() > first.total() ? last : first;
  }

  /** Bytes on a device of pipeline stage {@code stage}. */
  public static Breakdown stage(Job job, Layout l, ActivationModel am, int stage) {
    if (am == ActivationModel.WEFT_RUNTIME) return runtimeStage(job, l, stage);
    ModelDims ms = job.shape();
    Precision pr = job.precision();
    int t = l.tp(), p = l.pp(), c = l.cp(), v = l.schedule() == Schedule.INTERLEAVED ? l.virtualStages() : 1;
    long b = l.microBatch(), s = ms.seq(), h = ms.hidden(), V = ms.vocab();
    int m = Math.max(1, l.microBatches(job.globalBatch()));
    boolean first = stage == 0, last = stage == p - 1;
    int layers = layersPerDevice(ms.layers(), p, v);

    long params = stageParams(ms, t, p, v, stage);
    int shards = l.dp() * c;
    long[] wgo = modelStateBytes(params, pr, l.zero(), shards);

    double inFlight = inFlightMicroBatches(l.schedule(), p, m, v, stage);
    double inFlightLast = inFlightMicroBatches(l.schedule(), p, m, v, p - 1);
    long act, outside, scratch;
    double spDiv = l.sp() ? t : 1;
    if (am == ActivationModel.KORTHIKANTI) {
      AttentionKernel ak = job.software().attention();
      double perLayer = activationLayerBytes(ms, ak, s, b, t, l.sp(), c, l.recompute());
      double working = l.recompute() == Recompute.NONE ? 0
          : activationLayerBytes(ms, ak, s, b, t, l.sp(), c, Recompute.NONE);
      act = Math.round(inFlight * layers * perLayer + working);
      double out = 0;
      if (first) out += inFlight * 3.0 * s * b * h / spDiv / c;
      if (last) out += inFlightLast * (2.0 * s * b * h / spDiv + 4.0 * s * b * ceilDiv(V, t)) / c;
      outside = Math.round(out);
      scratch = 0;
    } else {
      ModelSpec mc = job.model();
      long perLayer = runtimeLayerBytes(mc, b, s, t, l.sp(), c, l.recompute());
      long working = runtimeWorkingBytes(mc, b, s, t, l.sp(), c, l.recompute());
      act = Math.round(inFlight * layers * perLayer) + working;
      outside = Math.round(inFlight * runtimeOutsideBytes(mc, b, s, mc.vocab(), t, l.sp(), c, first, false)
          + inFlightLast * runtimeOutsideBytes(mc, b, s, mc.vocab(), t, l.sp(), c, false, last));
      scratch = runtimeScratchBytes(mc, b, s, t, l.sp(), c);
    }

    int ab = am == ActivationModel.WEFT_RUNTIME ? Float.BYTES : pr.activationBytes;
    double bsh = (double) b * s * h / c;
    double comm = 0;
    if (p > 1) comm += 4 * bsh / spDiv * ab;
    if (t > 1) comm += bsh * ab;
    if (c > 1) {
      comm += l.cpAlgorithm() == CpAlgorithm.ALL_GATHER ? 2.0 * b * s * ms.kvDim() / t * ab : 4 * bsh / t * ab;
    }
    if (shards > 1) {
      if (l.zero() >= 3) comm += 2.0 * layerParamsPerDevice(ms, t) * pr.weightBytes;
      else comm += Math.min(2 * DDP_BUCKET_BYTES, wgo[1]);
    }
    return new Breakdown(wgo[0], wgo[1], wgo[2], act, outside, scratch, Math.round(comm), stage);
  }

  // ---- the Weft runtime, device by device ----------------------------------------------------------------

  /**
   * Layers per chunk as {@link dev.weft.parallel.pp.StagePlan#balanced} cuts them: L / (p v) each, the
   * extra layers to the middle chunks first, then the last, then the first.
   */
  public static int[] balancedChunks(int layers, int p, int v) {
    int n = p * Math.max(1, v);
    int[] sizes = new int[n];
    java.util.Arrays.fill(sizes, layers / n);
    int extra = layers % n;
    for (int i = 1; i < n - 1 && extra > 0; i++, extra--) sizes[i]++;
    if (extra > 0 && n > 1) {
      sizes[n - 1]++;
      extra--;
    }
    if (extra > 0) sizes[0] += extra;
    return sizes;
  }

  /**
   * The parameter regions (floats) of pipeline rank {@code stage} at TP rank 0, as
   * {@link dev.weft.model.ParameterLayout} lays them out: [embeddings, one per layer held, final region]. The
   * embeddings are on the first rank (and the last, for a tied head's copy); a layer holds each block
   * parameter's tensor-parallel slice; the final norm (and an untied head) on the last rank.
   */
  public static long[] runtimeRegions(ModelSpec m, int t, int p, int v, int stage) {
    boolean first = stage == 0, last = stage == p - 1;
    int[] chunks = balancedChunks(m.layers(), p, v);
    int held = 0;
    for (int c = stage; c < chunks.length; c += p) held += chunks[c];
    long emb = 0, layer = 0, fin = 0;
    for (ParamSpec ps : m.params()) {
      long local = 1;
      for (int d : ps.split().apply(ps.name(), ps.shape(), t, 0).localShape(ps.shape())) local *= d;
      switch (ps.region()) {
        case EMBEDDING -> emb += local;
        case BLOCK -> layer += ps.layer() == 0 ? local : 0;
        case FINAL -> fin += local;
      }
    }
    long[] r = new long[held + 2];
    r[0] = first || (last && m.tied()) ? emb : 0;
    for (int i = 0; i < held; i++) r[1 + i] = layer;
    r[held + 1] = last ? fin : 0;
    return r;
  }

  /** Floats rank 0 of a ZeRO group of n owns: the first (ceil) piece of every region ({@code ShardPlan}). */
  public static long runtimeShard(long[] regions, int n) {
    long s = 0;
    for (long r : regions) s += ceilDiv(r, n);
    return s;
  }

  /**
   * Stage-0 micro-batch activations in flight in chunk units: one {@link dev.weft.decoder.Activations} per
   * (chunk, micro-batch) forward not yet backward. GPipe all m v; 1F1B and ZB-H1 min(p - i, m); interleaved
   * (Megatron's warm-up) v (p - i) + p - 1, at most m v.
   */
  public static int runtimeStashedChunks(Schedule schedule, int p, int m, int v, int stage) {
    if (p <= 1) return 1;
    return switch (schedule) {
      case NONE -> 1;
      case GPIPE -> m;
      case ONE_F_ONE_B, ZB_H1 -> Math.min(m, p - stage);
      case INTERLEAVED -> Math.min(m * v, v * (p - stage) + p - 1);
    };
  }

  /**
   * Bytes Weft allocates on pipeline rank {@code stage} (TP rank 0, DP x CP rank 0) at its peak:
   * <ul>
   * <li>model states from {@link #runtimeRegions} and ZeRO over n = d c: stage 0 P (w) + P (g) + 2P (m, v);
   *     1 P + P + 2S; 2 P + S + 2S; 3 4S (S the owned shard), times 4 bytes;
   * <li>without pipelining, one {@code Activations} for the whole run (layers, the once-per-device
   *     tensors, the backward scratch); with pipelining, one per stashed (chunk, micro-batch), each with
   *     its chunk's layers, its own {@code encoded}, and the head on the last rank, plus one
   *     {@code Workspace} they share (backward scratch; under full recomputation one block's activations);
   * <li>transient ("comm") buffers: ZeRO-1 the reduce-scatter pieces of every region at the end of
   *     backward (S floats); ZeRO-2 the embeddings' full gradient (held through backward), the region
   *     computing and the one waiting for its reduce-scatter, plus two pieces, or S floats of all-gather
   *     sends after the update, whichever is larger; ZeRO-3 that plus gathered parameters of the same three
   *     regions; pipelining one outgoing activation and one posted receive, 2 R C floats. Without
   *     pipelining these add to the activations (allocated once, alive all run); with it ZeRO-2/3's
   *     backward buffers add to the stash and the rest come after it is freed, so the larger counts;
   *     context parallelism's attention buffers ({@link #runtimeCpTransientBytes}) during a layer's
   *     backward. The model's TP collectives work in the activations' and the workspace's own buffers.
   * </ul>
   */
  static Breakdown runtimeStage(Job job, Layout l, int stage) {
    ModelSpec mc = job.model();
    Precision pr = job.precision();
    int t = l.tp(), p = l.pp(), c = l.cp();
    int v = l.schedule() == Schedule.INTERLEAVED ? Math.max(1, l.virtualStages()) : 1;
    int m = Math.max(1, l.microBatches(job.globalBatch()));
    long b = l.microBatch(), s = mc.context(), C = mc.dModel();
    boolean first = stage == 0, last = stage == p - 1;
    boolean sp = l.sp() && t > 1;
    int n = l.dp() * c;
    long vp = (long) ceilDiv(mc.vocab(), t) * t;

    long[] regions = runtimeRegions(mc, t, p, v, stage);
    long params = 0, maxLayer = 0;
    for (int i = 0; i < regions.length; i++) {
      params += regions[i];
      if (i > 0 && i < regions.length - 1) maxLayer = Math.max(maxLayer, regions[i]);
    }
    int z = n > 1 ? l.zero() : 0;
    long shard = z == 0 ? params : runtimeShard(regions, n);
    long w = (z >= 3 ? shard : params) * pr.weightBytes;
    long g = (z >= 2 ? shard : params) * pr.gradBytes;
    long o = (z >= 1 ? shard : params) * pr.optimizerBytes;

    long perLayer = runtimeLayerBytes(mc, b, s, t, sp, c, l.recompute());
    long working = runtimeWorkingBytes(mc, b, s, t, sp, c, l.recompute());
    long scratch = runtimeScratchBytes(mc, b, s, t, sp, c);
    long N = b * s / c, R = sp ? N / t : N;
    long act, outside, scratchAll;
    if (p == 1) {
      act = mc.layers() * perLayer + working;
      outside = runtimeOutsideBytes(mc, b, s, (int) vp, t, sp, c, true, true);
      scratchAll = scratch;
    } else {
      int[] chunks = balancedChunks(mc.layers(), p, v);
      int k = runtimeStashedChunks(l.schedule(), p, m, v, stage);
      // The stash holds chunk-micro-batches of this rank's chunks in turn; count the largest chunks first.
      java.util.List<Integer> mine = new java.util.ArrayList<>();
      for (int ch = stage; ch < chunks.length; ch += p) mine.add(chunks[ch]);
      mine.sort(java.util.Comparator.reverseOrder());
      long layersStashed = 0;
      for (int i = 0; i < k; i++) layersStashed += mine.get(i % mine.size());
      act = layersStashed * perLayer + working;
      long encoded = R * C * Float.BYTES;
      long head = last ? runtimeOutsideBytes(mc, b, s, (int) vp, t, sp, c, false, true) : 0;
      outside = k * encoded + (last ? k * head : 0);
      scratchAll = scratch; // one Workspace per rank, shared by the stash
    }

    long zeroBuf = 0;
    long emb = regions[0];
    // During backward (ZeRO-2/3): region gradients waiting for their reduce-scatter and, at 3, gathered
    // weights; after the update: S floats of all-gather sends. In a pipeline (p > 1) the stash holds
    // alongside them: the embeddings' gradient (resident all step on an end stage) and, at 3, their
    // gathered weights, one region's gradient in flight, the weights of the region computing and of the
    // one prefetched (weft bench plan: dp2 x pp2 at ZeRO-2 and -3 within 10%).
    long piece = ceilDiv(maxLayer, n);
    long inBackward = switch (z) {
      case 2 -> emb + 2 * maxLayer + 2 * piece;
      case 3 -> p == 1 ? 2 * (emb + 2 * maxLayer) + 3 * piece : 2 * emb + 3 * maxLayer + 3 * piece;
      default -> 0;
    };
    zeroBuf = z == 1 ? shard : z >= 2 ? Math.max(inBackward, shard) : 0;
    zeroBuf *= Float.BYTES;
    inBackward *= Float.BYTES;
    long ppBuf = p > 1 ? 2 * R * C * Float.BYTES : 0;
    long cpBuf = runtimeCpTransientBytes(mc, b, s, t, c, l.cpAlgorithm());
    // Without pipelining the activations live all run, so ZeRO's buffers add to them; with it they come
    // after the stash is freed: the peak is the larger of (stash + pp buffers) and the ZeRO buffers. The
    // attention's CP buffers live inside a layer's backward: with ZeRO-2/3's buffers (also held during
    // backward) they add up; ZeRO-1's come after backward, so the larger counts.
    long comm = p == 1 ? (z >= 2 ? zeroBuf + cpBuf : Math.max(zeroBuf, cpBuf))
        : Math.max(ppBuf + cpBuf + inBackward, zeroBuf - (act + outside + scratchAll));
    return new Breakdown(w, g, o, act, outside, scratchAll, comm, stage);
  }

  static long ceilDiv(long x, long y) {
    return (x + y - 1) / y;
  }

  static int ceilDiv(int x, int y) {
    return (x + y - 1) / y;
  }
}
