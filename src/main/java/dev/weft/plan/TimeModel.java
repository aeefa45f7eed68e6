package dev.weft.plan;

import dev.weft.models.gpt2.GPT2Config;

/**
 * Seconds per optimizer step for a {@link Job} under a {@link Layout} on a {@link ClusterSpec}, built up from
 * the kernels a step runs. Symbols: L layers, h hidden, a heads, k kv heads, d = h/a, f MLP width, V vocab,
 * s sequence, b micro-batch, t tp, p pp, c cp, n = dp c, m micro-batches, v virtual stages, M = b s / c tokens
 * on a rank.
 *
 * <p><b>FLOPs</b> ({@link ModelDims}): model FLOPs per token 3 (L (2 x layer matrices + 4 s h) + 2 h V),
 * GPT-2: 72 L h^2 (1 + s/(6h) + V/(12 L h)) (Narayanan et al. 2021, Appendix); full recomputation adds a forward
 * (Narayanan's equation 3 counts it: 96 B s L h^2 (1 + s/(6h) + V/(16 L h))), selective only the attention core
 * (Korthikanti et al. 2022, section 5).
 *
 * <p><b>One layer, one micro-batch, one rank</b>:
 * <ul>
 * <li>matrix products: forward (M x h) (h x (h+2kd)/t), (M x h/t) (h/t x h), (M x h) (h x f'/t),
 *     (M x f/t) (f/t x h) with f' = f, or 2f gated; backward per product a data gradient (M, K, N) and a
 *     weight gradient (K, N, M). Each runs at {@link #gemmSeconds}: the device's sustained matrix rate, times
 *     the fraction of SM-waves its output tiles fill (tile and wave quantization), and no faster than moving
 *     its operands and result through memory (roofline). A flat device (a calibrated CPU) has no tiles and no
 *     roofline: FLOPs / (peak x efficiency);
 * <li>attention core by {@link AttentionKernel}: MATERIALIZED, the two batched products per head at their
 *     shapes (d, the reduction of Q K^T, is small: memory-bound) plus 9 bytes per score forward and 11 backward
 *     through memory; FLASH, 4 M s h / t forward FLOPs halved for the causal mask, backward 2.5x, at the device's
 *     attention-kernel rate;
 * <li>memory-bound kernels, elements per token forward: two norms 2h each, two residual adds (with dropout)
 *     3h each, the activation 2f (3f gated), dropout masks h (1 byte each, two of them), rotary embeddings of q
 *     and k 2 (h + k d); backward twice that (the rotary's once). Norms and residuals are replicated over TP
 *     unless SP shards them; the rest is split by t. Bytes = elements x activation bytes, over the achieved
 *     memory bandwidth, for fused kernels; PyTorch eager's unfused RMSNorm, rotary and SwiGLU move more
 *     ({@link #elementwiseBytesPerToken}, {@link Software.Elementwise});
 * <li>recomputation: full repeats the forward, selective the attention core's forward.
 * </ul>
 * Last stage: the logits (M x h)(h x V/t), backward 2 products, and the loss's 3 fp32 passes over V/t per token
 * (eager: {@link #lossBytesPerLogit}).
 * Plus {@link ClusterSpec#layerOverheadSeconds} per layer per micro-batch (a calibrated CPU; 0 on GPUs).
 *
 * <p><b>Communication, not overlapped unless said</b>: TP 4 all-reduces of M h bytes per layer (2 forward, 2
 * backward; 6 with full recomputation), the same volume as reduce-scatter + all-gather pairs with SP
 * (Korthikanti et al. 2022, section 4.2.2); CP ring: the K,V block 2 M k d / t passed c - 1 times forward and
 * twice that backward, hidden under the attention of the block in hand, only the excess exposed; CP all-to-all:
 * 8 all-to-alls of M h / t per layer; CP all-gather (Dubey et al. 2024, section 3.3.2): K,V of the whole sequence
 * gathered forward (again when recomputing) and their gradients reduce-scattered backward, exposed; PP: 2 v sends
 * of M h per micro-batch (/t with SP or Megatron's scatter/gather, {@link Software#pipelineScatterGather}).
 *
 * <p><b>Pipeline</b>: (m + bubble) x per-micro-batch time, bubble from {@link Schedule}.
 *
 * <p><b>Data parallel</b> over the DP x CP group (n = d c) on the stage's Phi parameters, in
 * {@link Software#gradBytes} per gradient: ZeRO 0 all-reduce of the gradients; ZeRO 1 reduce-scatter of
 * gradients + all-gather of updated weights; ZeRO 2 a reduce-scatter per micro-batch + one all-gather; ZeRO 3 per
 * micro-batch an all-gather of weights for forward, again for backward (and for the recomputed forward) and a
 * gradient reduce-scatter (Rajbhandari et al. 2020, section 7), layer by layer (the ring latency once per layer).
 * Overlapped only when the software overlaps ({@link Software#overlapDp}) and the caller asks: gradient
 * reduction hides under the backward of the last micro-batch (2/3 of its compute) and weight gathers under a
 * forward (1/3); ZeRO 3's traffic, one link for all of it, hides under the micro-batch's compute but for the
 * first layer's gather. Inter-node groups get the NICs their members own in a node
 * ({@link ClusterSpec#linkFor}). Optimizer: AdamW is memory-bound, 28 bytes moved per owned parameter.
 */
public final class TimeModel {
  private TimeModel() {
  }

  /** Seconds per step by part; FLOPs per step over all devices. */
  public record Breakdown(double compute, double elementwise, double bubble, double tpComm, double cpComm, double ppComm,
                          double dpCommExposed, double dpCommTotal, double optimizer, double step,
                          double modelFlops, double hardwareFlops, double microBatchSeconds) {
  }

  static final double OPTIMIZER_BYTES_PER_PARAM = 28;
  /** Output tiles a GEMM kernel may pick (NVIDIA's matrix multiplication guide: 256 x 128 and 128 x 128 tiles). */
  static final int[][] TILES = {{128, 256}, {256, 128}, {128, 128}};
  /** Bytes through memory per attention score, forward and backward, with materialized scores (16-bit). */
  static final double SCORE_BYTES_FORWARD = 9, SCORE_BYTES_BACKWARD = 11;

  /** Model FLOPs per token of a GPT-2 model (see {@link ModelDims#modelFlopsPerToken}). */
  public static double modelFlopsPerToken(GPT2Config m) {
    return ModelDims.of(m).modelFlopsPerToken();
  }

  /** Extra FLOPs per token that recomputation adds to a GPT-2 model. */
  public static double recomputeFlopsPerToken(GPT2Config m, Recompute r) {
    return ModelDims.of(m).recomputeFlopsPerToken(r);
  }

  /**
   * Seconds of {@code batch} products (m x k)(k x n) in precision {@code pr}: 2 m n k batch FLOPs at the
   * sustained matrix rate over the fraction of SM-waves the output tiles fill (the best of {@link #TILES}),
   * and at least the bytes of both operands and the result over memory bandwidth. Flat devices: FLOPs / rate.
   */
  public static double gemmSeconds(ClusterSpec cl, Precision pr, double m, double n, double k, double batch) {
    double flops = 2 * m * n * k * batch;
    double rate = cl.achievableFlops(pr);
    ClusterSpec.Kernels kr = cl.kernels();
    if (flops <= 0) return 0;
    if (!kr.tiled()) return flops / rate;
    double best = Double.MAX_VALUE;
    for (int[] tile : TILES) {
      double tiles = Math.ceil(m / tile[0]) * Math.ceil(n / tile[1]) * batch;
      double waves = Math.ceil(tiles / kr.sms());
      double filled = m * n * batch / ((double) tile[0] * tile[1]) / (waves * kr.sms());
      best = Math.min(best, flops / (rate * Math.min(1, filled)));
    }
    double bytes = pr.activationBytes * (m * k + k * n + m * n) * batch;
    return Math.max(best, bytes / cl.hbmBytesPerSecond());
  }

  /** Forward and backward seconds of one product (m x k)(k x n): {forward, backward}. */
  static double[] linear(ClusterSpec cl, Precision pr, double m, double n, double k) {
    return new double[] {gemmSeconds(cl, pr, m, n, k, 1), gemmSeconds(cl, pr, m, k, n, 1) + gemmSeconds(cl, pr, k, n, m, 1)};
  }

  /** One layer's compute on one rank for one micro-batch: {forward, backward, attention forward, elementwise}. */
  static double[] layerSeconds(Job job, Layout l, ClusterSpec cl) {
    ModelDims ms = job.shape();
    Precision pr = job.precision();
    int t = l.tp(), c = l.cp();
    double b = l.microBatch(), s = ms.seq(), h = ms.hidden(), M = b * s / c;
    double fwd = 0, bwd = 0;
    double[][] products = {
        linear(cl, pr, M, ms.qkvWidth() / (double) t, h),
        linear(cl, pr, M, h, h / t),
        linear(cl, pr, M, ms.mlpInWidth() / (double) t, h),
        linear(cl, pr, M, h, ms.ffn() / (double) t)};
    for (double[] x : products) {
      fwd += x[0];
      bwd += x[1];
    }
    double ab = pr.activationBytes, bw = cl.hbmBytesPerSecond();
    double attnF, attnB;
    double heads = ms.heads() / (double) t, d = ms.headDim(), q = s / c;
    if (job.software().attention() == AttentionKernel.MATERIALIZED) {
      double batch = b * heads;
      double scores = batch * q * s;
      attnF = gemmSeconds(cl, pr, q, s, d, batch) + gemmSeconds(cl, pr, q, d, s, batch)
          + scores * SCORE_BYTES_FORWARD * ab / 2 / bw;
      attnB = gemmSeconds(cl, pr, q, d, s, batch) + gemmSeconds(cl, pr, s, d, q, batch)
          + gemmSeconds(cl, pr, q, s, d, batch) + gemmSeconds(cl, pr, s, d, q, batch)
          + scores * SCORE_BYTES_BACKWARD * ab / 2 / bw;
    } else {
      double rate = cl.kernels().attentionFlops() > 0 ? cl.kernels().attentionFlops() * cl.deviceShare()
          : cl.achievableFlops(pr);
      double flops = 4 * M * s * h / t / 2; // causal blocks skipped
      attnF = flops / rate;
      attnB = 2.5 * flops / rate;
    }
    double[] ew = elementwiseBytesPerToken(ms, l, job.software().elementwise(), ab);
    double ewF = M * ew[0] / bw, ewB = M * ew[1] / bw;
    return new double[] {fwd + attnF + ewF, bwd + attnB + ewB, attnF, ewF + ewB};
  }

  /**
   * Bytes the memory-bound kernels of one layer move per token on one rank, {forward, backward}, a = activation
   * bytes. FUSED, one pass per operation: two norms 2h elements each (RMSNorm or LayerNorm), two residual adds 3h
   * each (with dropout, h more for the masks), the MLP's activation 3f gated (read gate and up, write) or 2f,
   * the rotary embedding of q and k 2 (h + k d) (read, write; none with learned positions); the backward twice
   * the forward, the rotary's equal to it. Norms and residuals are replicated over TP unless SP shards them;
   * the rest is split by t. EAGER ({@link Software.Elementwise}) replaces, per element: RMSNorm's forward 2a
   * with upcast (a + 4), square (8), mean (4), scale (8), downcast (4 + a), gain (2a) = 4a + 28 bytes, and its
   * backward 4a with gain (4a), downcast (a + 4), scale (16), square (12), upcast (4 + a), accumulation into the
   * residual's gradient (3a) = 9a + 36; the rotary's 2a each way with upcast, complex product in fp32 and
   * downcast, 2a + 16; the gated activation's 3a forward and 6a backward with SiLU and product as two kernels,
   * 5a and 9a (three products of two tensors backward). bf16 (a = 2): RMSNorm 36 + 54 bytes instead of 4 + 8.
   */
  static double[] elementwiseBytesPerToken(ModelDims ms, Layout l, Software.Elementwise mode, double a) {
    int t = l.tp();
    double rep = l.sp() ? t : 1, h = ms.hidden();
    boolean eager = mode == Software.Elementwise.EAGER;
    boolean rms = !ms.biases();
    double normF = rms && eager ? 4 * a + 28 : 2 * a, normB = rms && eager ? 9 * a + 36 : 4 * a;
    double residualF = (6 * h + (ms.dropout() ? h : 0)) * a;
    double fwd = (2 * h * normF + residualF) / rep, bwd = (2 * h * normB + 2 * residualF) / rep;
    double f = ms.ffn() / (double) t;
    if (ms.gated()) {
      fwd += f * (eager ? 5 : 3) * a;
      bwd += f * (eager ? 9 : 6) * a;
    } else {
      fwd += 2 * f * a;
      bwd += 4 * f * a;
    }
    if (!ms.learnedPositions()) {
      double rotated = (h + ms.kvDim()) / t; // elements of q and k per token
      double perElement = eager ? 2 * a + 16 : 2 * a;
      fwd += rotated * perElement;
      bwd += rotated * perElement;
    }
    return new double[] {fwd, bwd};
  }

  /**
   * Bytes per logit of the loss (softmax cross-entropy), forward and backward: FUSED three fp32 passes (12);
   * EAGER over upcast logits: upcast (a + 4), log-softmax (max 4, sum 4, write 4 + 4), its backward (8),
   * downcast (4 + a): 2a + 32.
   */
  static double lossBytesPerLogit(Software.Elementwise mode, double a) {
    return mode == Software.Elementwise.EAGER ? 2 * a + 32 : 3 * Float.BYTES;
  }

  public static Breakdown estimate(Job job, Layout l, ClusterSpec cluster) {
    return estimate(job, l, cluster, true);
  }

  public static Breakdown estimate(Job job, Layout l, ClusterSpec cl, boolean overlapDp) {
    ModelDims ms = job.shape();
    Precision pr = job.precision();
    Software sw = job.software();
    int t = l.tp(), p = l.pp(), c = l.cp(), d = l.dp();
    int v = l.schedule() == Schedule.INTERLEAVED ? l.virtualStages() : 1;
    int m = Math.max(1, l.microBatches(job.globalBatch()));
    double h = ms.hidden(), s = ms.seq(), V = ms.vocab(), b = l.microBatch();
    int layers = MemoryModel.layersPerDevice(ms.layers(), p, v);
    int ab = pr.activationBytes;
    double tokens = b * s / c;

    // Compute of one micro-batch on the busiest stage.
    double[] layer = layerSeconds(job, l, cl);
    double perLayer = switch (l.recompute()) {
      case NONE -> layer[0] + layer[1];
      case SELECTIVE -> layer[0] + layer[1] + layer[2];
      case FULL -> 2 * layer[0] + layer[1];
    };
    double[] logits = linear(cl, pr, tokens, V / t, h);
    double loss = tokens * V / t * lossBytesPerLogit(sw.elementwise(), ab) / cl.hbmBytesPerSecond();
    double mbOverhead = layers * cl.layerOverheadSeconds();
    double mbCompute = layers * perLayer + logits[0] + logits[1] + loss + mbOverhead;
    double recomputedElementwise = l.recompute() == Recompute.FULL ? layer[3] / 3 : 0;
    double mbElementwise = layers * (layer[3] + recomputedElementwise) + loss;

    // TP: all-reduces (or RS+AG pairs with SP) of M h activations.
    double tpMb = 0;
    if (t > 1) {
      int ops = l.recompute() == Recompute.FULL ? 6 : 4;
      tpMb = layers * ops * Collectives.allReduce(t, tokens * h * ab, cl.linkFor(1, t));
    }

    // CP.
    double cpMb = 0;
    if (c > 1) {
      Link link = cl.linkFor(t, c);
      double kv = 2 * tokens * ms.kvDim() / t * ab;
      int forwards = l.recompute() == Recompute.FULL ? 2 : 1;
      switch (l.cpAlgorithm()) {
        case RING -> {
          double fwdComm = (c - 1) * Collectives.p2p(kv, link);
          double bwdComm = 2 * (c - 1) * Collectives.p2p(kv, link);
          double attnFwd = layer[2];
          cpMb = layers * (forwards * Math.max(0, fwdComm - attnFwd) + Math.max(0, bwdComm - 2 * attnFwd));
        }
        case ALL_TO_ALL -> cpMb = layers * 4 * (forwards + 1)
            * Collectives.allToAll(c, tokens * h / t * ab, link);
        case ALL_GATHER -> cpMb = layers * (forwards * Collectives.allGather(c, kv * c, link)
            + Collectives.reduceScatter(c, kv * c, link));
      }
    }

    // PP point-to-point.
    double ppMb = 0;
    if (p > 1) {
      boolean cut = l.sp() || sw.pipelineScatterGather();
      double msg = tokens * h * ab / (cut ? t : 1);
      ppMb = 2 * v * Collectives.p2p(msg, cl.linkFor(t * c * d, p));
    }

    double mbTime = mbCompute + tpMb + cpMb + ppMb;
    double bubbleMb = l.schedule().bubbleMicroBatches(p, v);
    double pipeline = (m + bubbleMb) * mbTime;
    double share = cl.deviceShare();
    if (p > 1 && share < 1) {
      // Devices sharing processors: a stage idle in its bubble leaves its share to the busy ones, so the step
      // is the longer of the critical path at full speed and all stages' work at the shared rate.
      pipeline = Math.max((m + bubbleMb) * (mbCompute * share + tpMb + cpMb + ppMb), m * mbTime);
    }

    // DP x CP gradient reduction.
    int n = d * c;
    double dpTotal = 0, dpExposed = 0;
    boolean overlap = overlapDp && sw.overlapDp();
    long params = Math.max(MemoryModel.stageParams(ms, t, p, v, 0), MemoryModel.stageParams(ms, t, p, v, p - 1));
    if (n > 1) {
      Link link = cl.linkFor(t, n);
      double g = (double) params * sw.gradBytes(pr), w = (double) params * pr.weightBytes;
      double fwd = mbCompute / 3, bwd = 2 * mbCompute / 3;
      switch (l.zero()) {
        case 0 -> {
          dpTotal = Collectives.allReduce(n, g, link);
          dpExposed = overlap ? Math.max(0, dpTotal - bwd) : dpTotal;
        }
        case 1 -> {
          double rs = Collectives.reduceScatter(n, g, link), ag = Collectives.allGather(n, w, link);
          dpTotal = rs + ag;
          dpExposed = overlap ? Math.max(0, rs - bwd) + Math.max(0, ag - fwd) : dpTotal;
        }
        case 2 -> {
          double rs = Collectives.reduceScatter(n, g, link), ag = Collectives.allGather(n, w, link);
          dpTotal = m * rs + ag;
          dpExposed = overlap ? m * Math.max(0, rs - bwd) + Math.max(0, ag - fwd) : dpTotal;
        }
        default -> {
          // Layer by layer (each layer's weights gathered as it is reached, prefetched): one ring per layer, so
          // the latency term counts once per layer; the link is one resource, so only what exceeds the micro-batch's
          // compute is exposed, plus the first layer's gather, which nothing precedes.
          int gathers = l.recompute() == Recompute.FULL ? 3 : 2;
          double latency = layers * (n - 1) * link.latencySeconds();
          double ag = (double) (n - 1) / n * w / link.bytesPerSecond() + latency;
          double rs = (double) (n - 1) / n * g / link.bytesPerSecond() + latency;
          double perMb = gathers * ag + rs;
          dpTotal = m * perMb;
          dpExposed = overlap ? m * (Math.max(0, perMb - mbCompute) + ag / layers) : dpTotal;
        }
      }
    }

    double owned = l.zero() >= 1 ? (double) params / n : params;
    double optimizer = owned * OPTIMIZER_BYTES_PER_PARAM / cl.hbmBytesPerSecond();

    double step = pipeline + dpExposed + optimizer;
    double tokensPerStep = job.tokensPerStep();
    double model = ms.modelFlopsPerToken() * tokensPerStep;
    double hardware = model + ms.recomputeFlopsPerToken(l.recompute()) * tokensPerStep;
    return new Breakdown(m * mbCompute, m * mbElementwise, pipeline - m * mbTime, m * tpMb, m * cpMb, m * ppMb, dpExposed,
        dpTotal, optimizer, step, model, hardware, mbTime);
  }
}
