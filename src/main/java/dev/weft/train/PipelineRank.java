package dev.weft.train;

import dev.weft.parallel.Parallelism;
import dev.weft.comm.Backend;
import dev.weft.comm.Communicator;
import dev.weft.comm.ReduceOp;
import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import dev.weft.decoder.Activations;
import dev.weft.decoder.Decoder;
import dev.weft.decoder.DecoderStageModel;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.dp.ZeroWeights;
import dev.weft.parallel.pp.PipelineExecutor;
import dev.weft.parallel.pp.Schedule;
import dev.weft.parallel.pp.Schedules;
import dev.weft.parallel.pp.StagePlan;
import dev.weft.parallel.pp.Timeline;
import dev.weft.tensor.DeviceMemory;
import dev.weft.trace.Tracer;

/**
 * One rank's part of a pipeline: its PP group, which chunks (virtual stages) of the model it runs, the
 * schedule (the same list-of-actions generator on every rank) and the executor that runs it each step. Also
 * what the pipeline adds around a step: the tied embedding's gradient summed between the first and last
 * stage (each holds a copy of wte), the loss taken from the last stage, a forward-only pass for validation,
 * and gathering full tensors from the stages for checkpoints.
 */
final class PipelineRank {
  final int p;
  final int ppRank;
  final StagePlan plan;
  final Schedule schedule;
  final Communicator pp;
  private final Communicator ppEval;
  private final Communicator embedding;
  private DecoderStageModel stages;
  private PipelineExecutor executor;
  private final int microBatch;
  /** Positions of each sequence on this rank (the sequence length over the context-parallel degree). */
  private final int seqLen;
  private final boolean recompute;

  PipelineRank(Backend backend, ParallelLayout mesh, TrainConfig cfg) {
    this(backend, mesh, cfg, cfg.model().context());
  }

  /**
   * As above, for sequences of {@code seqLen} tokens (at most the model's context); with context
   * parallelism each stage's rank holds seqLen / cp positions of each (its CP group splits them as
   * without a pipeline), so that is what travels between stages.
   */
  PipelineRank(Backend backend, ParallelLayout mesh, TrainConfig cfg, int seqLen) {
    Parallelism par = cfg.parallel();
    int rank = backend.rank();
    this.p = par.pp();
    this.ppRank = mesh.coordinate(rank, Axis.PP);
    this.plan = par.stagePlan(cfg.model());
    this.schedule = Schedules.generate(par.schedule(), cfg.accumulationSteps(), plan);
    int[] ppRanks = mesh.groupRanks(rank, Axis.PP);
    this.pp = backend.group(ppRanks);
    this.ppEval = backend.group(ppRanks);
    // A tied head keeps a copy of the token embedding on the last stage: its gradient is summed with the first's.
    boolean endStage = ppRank == 0 || ppRank == p - 1;
    this.embedding = endStage && cfg.model().tied() ? backend.group(ppRanks[0], ppRanks[p - 1]) : null;
    this.microBatch = cfg.microBatch();
    this.seqLen = seqLen / par.cp();
    this.recompute = par.recompute();
  }

  /** The blocks of this rank's chunks. */
  boolean[] layers(int total) {
    boolean[] l = new boolean[total];
    for (int s : plan.stagesOf(ppRank)) {
      for (int i = plan.firstLayer(s); i < plan.firstLayer(s) + plan.layers(s); i++) l[i] = true;
    }
    return l;
  }

  boolean first() { return ppRank == 0; }
  boolean last() { return ppRank == p - 1; }

  void attach(Decoder model, DeviceMemory memory) {
    this.stages = new DecoderStageModel(model, plan, microBatch, seqLen, schedule.name().equals("zb"), recompute);
    this.executor = new PipelineExecutor(pp, memory, stages);
  }

  /**
   * One step's forward and backward of all micro-batches by the schedule; then the tied embedding's
   * gradients summed between the end stages and the data-parallel reduction of every region. Returns this
   * replica's mean loss (the same on every stage).
   */
  double step(ZeroWeights weights, int[] tokens, float scale, Tracer tracer, int rank) {
    stages.beginStep(tokens, scale);
    weights.setLastMicroBatch(false);
    Timeline t;
    try {
      t = executor.run(schedule);
    } catch (RuntimeException e) {
      stages.clear();
      throw e;
    }
    if (tracer != null) {
      for (Timeline.Span s : t.spans()) {
        String kind = switch (s.kind()) {
          case FORWARD -> "F";
          case BACKWARD, BACKWARD_INPUT -> "B";
          case BACKWARD_WEIGHT -> "W";
          case SEND_ACTIVATION, SEND_GRADIENT -> "send";
          case RECV_ACTIVATION, RECV_GRADIENT -> "recv";
        };
        boolean comm = kind.equals("send") || kind.equals("recv");
        tracer.add(rank, kind + " s" + s.stage() + " mb" + s.microBatch(), comm ? "comm" : "compute", s.startNanos(),
            s.endNanos());
      }
    }
    // Sequence parallelism: ZeRO 0-1 reduce nothing during the step, so every replicated gradient is summed over
    // TP now; at ZeRO 2-3 blocks and head were summed per micro-batch, the embeddings (resident all step) now.
    if (weights.stage() <= 1) stages.model().sumReplicatedGradsOverTp();
    else stages.model().sumEmbeddingGradsOverTp();
    if (embedding != null && p > 1) weights.allReduceRegionGrads(embedding, 0);
    weights.syncAllRegions();
    float[] loss = {(float) stages.meanLoss()};
    pp.allReduce(loss, 0, 1, ReduceOp.SUM);
    return loss[0];
  }

  /**
   * The mean loss of one micro-batch (rows [row, row + microBatch) of {@code tokens}) through the pipeline,
   * forward only: virtual stage s runs on rank s % p; activations go to the next stage's rank over a
   * communicator of their own (never mixed with the schedule's traffic). The same on every stage.
   */
  double evaluate(Decoder model, int[] tokens, int row) {
    int last = plan.chunks() - 1;
    {
      float[] carry = null;
      float loss = 0;
      for (int s = 0; s <= last; s++) {
        if (plan.rankOf(s) != ppRank) continue;
        boolean[] ls = new boolean[model.spec().layers()];
        for (int l = plan.firstLayer(s); l < plan.firstLayer(s) + plan.layers(s); l++) ls[l] = true;
        // On the stages' workspace: under recomputation the chunk keeps one block's activations, as in training.
        try (Activations act = model.newStageActivations(microBatch, seqLen, ls, plan.hasHead(s), stages.workspace(), null)) {
          int n = act.encoded.length;
          if (plan.hasEmbedding(s) || plan.hasHead(s)) model.loadTokens(act, tokens, row);
          if (plan.hasEmbedding(s)) {
            model.embedForward(act);
          } else if (plan.rankOf(s - 1) == ppRank && carry != null) {
            System.arraycopy(carry, 0, act.encoded, 0, n);
          } else {
            ppEval.recv(act.encoded, 0, n, plan.rankOf(s - 1), s);
          }
          int end = plan.firstLayer(s) + plan.layers(s);
          model.blocksForward(act, plan.firstLayer(s), end);
          if (plan.hasHead(s)) {
            loss = model.headForward(act, Float.NaN);
          } else if (plan.rankOf(s + 1) == ppRank) {
            carry = act.res3[end - 1].clone();
          } else {
            ppEval.send(act.res3[end - 1], 0, n, plan.rankOf(s + 1), s + 1);
          }
        }
      }
      float[] buf = {last() ? loss : 0f};
      ppEval.allReduce(buf, 0, 1, ReduceOp.SUM);
      return buf[0];
    }
  }

  /**
   * Full flat tensors from every stage's (full-size, own regions filled) arrays: summed over the PP group,
   * with the last stage's copy of the embeddings left out (the first stage's counts).
   */
  /** The groups this rank's pipeline communicates in (for the metrics). */
  java.util.List<Communicator> groups() {
    return java.util.Arrays.asList(pp, ppEval, embedding);
  }

  /** Frees the stages' stash and workspace. */
  void close() {
    if (stages != null) stages.close();
  }

  float[] assemble(ParameterLayout full, float[] own) {
    if (!first()) {
      java.util.Arrays.fill(own, full.regionStart(0), full.regionEnd(0), 0f);
    }
    pp.allReduce(own, 0, own.length, ReduceOp.SUM);
    return own;
  }
}
