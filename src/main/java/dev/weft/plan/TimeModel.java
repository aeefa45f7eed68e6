package dev.weft.plan;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;

/**
 * Seconds per optimizer step for a {@link Job} under a {@link Layout} on a {@link ClusterSpec}.
 *
 * <p><b>FLOPs</b> (Narayanan et al. 2021, section 5.1 and Appendix, equation 3; Kaplan et al. 2020
 * Table 1): per token, matrix products 6 x (12 L h^2) (forward 2, backward 4 per parameter, embeddings
 * excluded), attention scores and weighted sum 12 L h s, output logits 6 h V; together
 * 72 L h^2 (1 + s/(6h) + V/(12 L h)). Recomputation adds a forward: full 24 L h^2 + 4 L h s per token
 * (making Narayanan's 96 B s L h^2 (...) "hardware" count), selective only the attention forward
 * 4 L h s (Korthikanti et al. 2022, section 5). Compute time = FLOPs / (peak x efficiency).
 *
 * <p><b>Per micro-batch on the busiest stage</b> (it holds ceil(L/(p v)) v layers and, being last,
 * the logits): compute over b s / c tokens split t ways, plus memory-bound kernels (ELEMENTWISE_PASSES
 * x the layer's activation bytes from Korthikanti's count / HBM bandwidth); TP: 4 all-reduces of b s h / c activations per
 * layer (2 forward, 2 backward; 6 with full recomputation), with SP the same volume as reduce-scatter +
 * all-gather pairs (Korthikanti et al. 2022, section 4.2.2), not overlapped; CP ring: the K,V block
 * 2 b (s/c) h/t goes c-1 steps forward and twice that backward (K,V then dK,dV), hidden under the
 * attention of the block in hand, only the excess exposed; CP all-to-all: 4 all-to-alls of
 * b (s/c) h / t each way per layer, exposed; PP: 2 v point-to-point sends of b (s/c) h (/t with SP or
 * Megatron's scatter/gather) per micro-batch, exposed. Plus {@link ClusterSpec#layerOverheadSeconds} per
 * layer per micro-batch (calibrated on CPUs, 0 on the GPU presets).
 *
 * <p><b>Pipeline</b>: (m + bubble) x per-micro-batch time, bubble from {@link Schedule}.
 *
 * <p><b>Data parallel</b> over the DP x CP group (n = d c) on the stage's Phi parameters: ZeRO 0
 * all-reduce of the gradients; ZeRO 1 reduce-scatter of gradients + all-gather of updated weights;
 * ZeRO 2 a reduce-scatter per micro-batch + one all-gather; ZeRO 3 per micro-batch an all-gather of
 * weights for forward and for backward and a gradient reduce-scatter (Rajbhandari et al. 2020,
 * section 7: 1.5x plain DP's volume per micro-batch). With overlap on, gradient reduction hides under
 * the backward of the last micro-batch (2/3 of its compute) and weight gathers under a forward
 * (1/3); only the excess counts. Optimizer: AdamW is memory-bound, 28 bytes moved per owned parameter
 * over HBM bandwidth.
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
  /**
   * Memory-bound (elementwise) traffic per stored activation byte: LayerNorm, GELU, softmax, dropout and
   * residual kernels write each activation, read it back, and touch it again in the recompute forward
   * and in backward. An assumed 6 passes (fitted together with the GEMM efficiency, see
   * PublishedResults).
   */
  static final double ELEMENTWISE_PASSES = 6;

  /** Model FLOPs per token: 72 L h^2 + 12 L h s + 6 h V. */
  public static double modelFlopsPerToken(ModelSpec m) {
    double L = m.layers(), h = m.dModel(), s = m.context(), V = m.vocab();
    return 72 * L * h * h + 12 * L * h * s + 6 * h * V;
  }

  /** Extra FLOPs per token that recomputation adds. */
  public static double recomputeFlopsPerToken(ModelSpec m, Recompute r) {
    double L = m.layers(), h = m.dModel(), s = m.context();
    return switch (r) {
      case NONE -> 0;
      case SELECTIVE -> 4 * L * h * s;
      case FULL -> 24 * L * h * h + 4 * L * h * s;
    };
  }

  public static Breakdown estimate(Job job, Layout l, ClusterSpec cluster) {
    return estimate(job, l, cluster, true);
  }

  public static Breakdown estimate(Job job, Layout l, ClusterSpec cl, boolean overlapDp) {
    ModelSpec mc = job.model();
    Precision pr = job.precision();
    int t = l.tp(), p = l.pp(), c = l.cp(), d = l.dp();
    int v = l.schedule() == Schedule.INTERLEAVED ? l.virtualStages() : 1;
    int m = Math.max(1, l.microBatches(job.globalBatch()));
    double h = mc.dModel(), s = mc.context(), V = mc.vocab(), b = l.microBatch();
    int layers = MemoryModel.layersPerDevice(mc.layers(), p, v);
    double flops = cl.achievableFlops(pr);
    int ab = pr.activationBytes;

    // Compute of one micro-batch on the busiest stage.
    double tokens = b * s / c;
    double perLayerPerToken = 72 * h * h + 12 * h * s;
    double recomputePerLayerPerToken = switch (l.recompute()) {
      case NONE -> 0;
      case SELECTIVE -> 4 * h * s;
      case FULL -> 24 * h * h + 4 * h * s;
    };
    double mbFlops = tokens / t * (layers * (perLayerPerToken + recomputePerLayerPerToken) + 6 * h * V);
    // Memory-bound kernels: ELEMENTWISE_PASSES x the layer's activation bytes (Korthikanti's count, which
    // keeps the TP-replicated 10sbh unless SP shards it) over HBM bandwidth.
    double actPerToken = MemoryModel.korthikantiLayerBytes((long) s, 1, (long) h, mc.heads(), t, l.sp(), 1,
        Recompute.NONE) / s * (ab / 2.0);
    double mbElementwise = layers * tokens * ELEMENTWISE_PASSES * actPerToken / cl.hbmBytesPerSecond();
    // Fixed per-layer cost per micro-batch (kernel launches, thread hand-offs; 0 on the GPU presets).
    double mbOverhead = layers * cl.layerOverheadSeconds();
    double mbCompute = mbFlops / flops + mbElementwise + mbOverhead;

    // TP: all-reduces (or RS+AG pairs with SP) of b s h / c activations.
    double tpMb = 0;
    if (t > 1) {
      int ops = l.recompute() == Recompute.FULL ? 6 : 4;
      tpMb = layers * ops * Collectives.allReduce(t, tokens * h * ab, cl.linkFor(1, t));
    }

    // CP.
    double cpMb = 0;
    if (c > 1) {
      Link link = cl.linkFor(t, c);
      double block = tokens * h / t * ab;
      if (l.cpAlgorithm() == CpAlgorithm.RING) {
        double kv = 2 * block;
        double fwdComm = (c - 1) * Collectives.p2p(kv, link);
        double bwdComm = 2 * (c - 1) * Collectives.p2p(kv, link);
        double attnFwd = 4 * tokens * s * h / t / flops;
        double perLayer = Math.max(0, fwdComm - attnFwd) + Math.max(0, bwdComm - 2 * attnFwd);
        if (l.recompute() == Recompute.FULL) perLayer += Math.max(0, fwdComm - attnFwd);
        cpMb = layers * perLayer;
      } else {
        int ops = l.recompute() == Recompute.FULL ? 12 : 8;
        cpMb = layers * ops * Collectives.allToAll(c, block, link);
      }
    }

    // PP point-to-point.
    double ppMb = 0;
    if (p > 1) {
      double msg = tokens * h * ab / (l.sp() ? t : 1);
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
    long params = Math.max(MemoryModel.stageParams(mc, t, p, v, 0), MemoryModel.stageParams(mc, t, p, v, p - 1));
    if (n > 1) {
      Link link = cl.linkFor(t, n);
      double g = (double) params * pr.gradBytes, w = (double) params * pr.weightBytes;
      double fwd = mbCompute / 3, bwd = 2 * mbCompute / 3;
      switch (l.zero()) {
        case 0 -> {
          dpTotal = Collectives.allReduce(n, g, link);
          dpExposed = overlapDp ? Math.max(0, dpTotal - bwd) : dpTotal;
        }
        case 1 -> {
          double rs = Collectives.reduceScatter(n, g, link), ag = Collectives.allGather(n, w, link);
          dpTotal = rs + ag;
          dpExposed = overlapDp ? Math.max(0, rs - bwd) + Math.max(0, ag - fwd) : dpTotal;
        }
        case 2 -> {
          double rs = Collectives.reduceScatter(n, g, link), ag = Collectives.allGather(n, w, link);
          dpTotal = m * rs + ag;
          dpExposed = overlapDp ? m * Math.max(0, rs - bwd) + Math.max(0, ag - fwd) : dpTotal;
        }
        default -> {
          double rs = Collectives.reduceScatter(n, g, link), ag = Collectives.allGather(n, w, link);
          dpTotal = m * (2 * ag + rs);
          dpExposed = overlapDp ? m * (Math.max(0, ag - fwd) + Math.max(0, ag + rs - bwd)) : dpTotal;
        }
      }
    }

    double owned = l.zero() >= 1 ? (double) params / n : params;
    double optimizer = owned * OPTIMIZER_BYTES_PER_PARAM / cl.hbmBytesPerSecond();

    double step = pipeline + dpExposed + optimizer;
    double tokensPerStep = job.tokensPerStep();
    double model = modelFlopsPerToken(mc) * tokensPerStep;
    double hardware = model + recomputeFlopsPerToken(mc, l.recompute()) * tokensPerStep;
    return new Breakdown(m * mbCompute, m * mbElementwise, pipeline - m * mbTime, m * tpMb, m * cpMb, m * ppMb, dpExposed, dpTotal,
        optimizer, step, model, hardware, mbTime);
  }
}
