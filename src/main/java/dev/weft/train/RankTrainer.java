package dev.weft.train;

import dev.weft.parallel.Parallelism;
import dev.weft.comm.Backend;
import dev.weft.comm.CommStats;
import dev.weft.comm.Communicator;
import dev.weft.comm.ReduceOp;
import dev.weft.data.BatchSampler;
import dev.weft.data.Corpus;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import dev.weft.decoder.ActivationShapes;
import dev.weft.decoder.Activations;
import dev.weft.decoder.Decoder;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.cp.ContextParallel;
import dev.weft.parallel.dp.ZeroOptimizer;
import dev.weft.parallel.dp.ZeroWeights;
import dev.weft.parallel.tp.TensorParallel;
import dev.weft.parallel.tp.TpGather;
import dev.weft.tensor.DeviceMemory;
import dev.weft.trace.Tracer;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * One rank's training loop. Per optimizer step: take this replica's rows of the step's global batch (a
 * pure function of seed and step), run its micro-batches forward and backward (gradients accumulate; the
 * loss is scaled by 1 / global batch so the summed gradient is the global mean's), let the weights'
 * gradient buckets finish reducing across the data-parallel group, clip by the global norm, and update
 * with AdamW at the warm-up + cosine learning rate. Rank 0 reports.
 */
final class RankTrainer {
  private final TrainConfig cfg;
  private final Backend backend;
  private final Corpus corpus;
  private final PrintStream out;
  private final int threads;
  private final Tracer tracer;
  private SampleSpec samples;
  private StepObserver observer;

  RankTrainer(TrainConfig cfg, Backend backend, Corpus corpus, PrintStream out, int threads, Tracer tracer) {
    this.tracer = tracer;
    this.cfg = cfg;
    this.backend = backend;
    this.corpus = corpus;
    this.out = out;
    this.threads = threads;
  }

  /** Also print a sample of the model every so many steps ({@link TrainingSampler}); null: none. */
  RankTrainer withSamples(SampleSpec spec) {
    this.samples = spec;
    return this;
  }

  /** Also hand every step's full gradients and parameters to {@code o} on rank 0 (null: none; a collective). */
  RankTrainer withObserver(StepObserver o) {
    this.observer = o;
    return this;
  }

  Trainer.Result run() {
    Parallelism par = cfg.parallel();
    int rank = backend.rank();
    int world = backend.worldSize();
    ParallelLayout mesh = ParallelLayout.of(par.dp(), par.pp(), par.cp(), par.tp(), world);
    // Gradients are reduced (and ZeRO shards cut) over data and context parallelism together.
    Communicator dp = backend.group(mesh.groupRanks(rank, Axis.DP, Axis.CP));
    ContextParallel cpc = par.cp() == 1 ? ContextParallel.NONE
        : new ContextParallel(backend.group(mesh.groupRanks(rank, Axis.CP)), par.cpMethod());
    TensorParallel tp = par.tp() == 1 ? TensorParallel.NONE
        : new TensorParallel(backend.group(mesh.groupRanks(rank, Axis.TP)), par.sp());
    PipelineRank pipe = par.pp() > 1 ? new PipelineRank(backend, mesh, cfg) : null;
    Communicator all = backend.world();
    ModelSpec mc = cfg.model();
    int T = mc.context();
    ParameterLayout layout = pipe == null ? new ParameterLayout(mc, par.tp(), tp.rank())
        : new ParameterLayout(mc, par.tp(), tp.rank(), pipe.layers(mc.layers()), pipe.first(), pipe.last());
    BatchSampler sampler = new BatchSampler(corpus, cfg.seed());
    DeviceMemory memory = new DeviceMemory("device " + rank, cfg.deviceMemory());
    boolean report = rank == 0;
    ProgressPrinter progress = new ProgressPrinter(out, cfg.lastStep());
    try (Compute cx = new Compute(threads, Gemm.byName(cfg.gemm()))) {
      ZeroWeights weights = new ZeroWeights(par.zero(), layout, dp, memory);
      try (Decoder model = new Decoder(layout, cx, memory, weights, tp, cpc);
           ZeroOptimizer opt = new ZeroOptimizer(weights, memory, 0.9f, 0.95f, 1e-8f, (float) cfg.weightDecay());
           Activations act = pipe == null ? model.newActivations(cfg.microBatch(), T / par.cp(), par.recompute()) : null;
           MetricsWriter metrics = report && cfg.metrics() != null ? new MetricsWriter(cfg.metrics()) : null) {
        if (pipe != null) pipe.attach(model, memory);
        int startStep = 1;
        if (cfg.resume() != null) {
          TrainingState state = TrainingState.read(cfg.resume());
          state.checkCompatible(cfg, out);
          ParameterLayout full = new ParameterLayout(mc);
          weights.loadFull(TpGather.localPart(layout, Checkpoint.readWeights(cfg.resume(), full)));
          Checkpoint.OptimizerState os = Checkpoint.readOptimizer(cfg.resume(), full);
          opt.loadFull(TpGather.localPart(layout, os.m()), TpGather.localPart(layout, os.v()));
          opt.setStepCount(os.step());
          startStep = state.step() + 1;
          out.printf("resumed from %s at step %d%n", cfg.resume(), state.step());
        } else if (cfg.init() != null) {
          weights.loadFull(TpGather.localPart(layout, Checkpoint.readWeights(cfg.init(), new ParameterLayout(mc))));
          out.printf("initialised from %s%n", cfg.init());
        } else {
          weights.initialize(cfg.seed());
        }
        out.printf("model: %s%nlayout: %d device%s (%s), %s | batch %d x %d tokens, %d micro-batch%s of %d per replica"
                + " | %d step%s, lr %.2e | %d compute thread%s per device, %s matmul%n",
            mc, world, world == 1 ? "" : "s", backend.describeTransport(all.globalRanks()), par, cfg.batch(), T,
            cfg.accumulationSteps(), cfg.accumulationSteps() == 1 ? "" : "es", cfg.microBatch(), cfg.steps(), cfg.steps() == 1 ? "" : "s", cfg.lr(),
            threads, threads == 1 ? "" : "s", cx.gemmImpl().name());

        boolean canValidate = sampler.canValidate(T);
        if (!canValidate && cfg.evalBatches() > 0) {
          out.printf("note: the held-out part of the data is shorter than one sequence (%d tokens); no validation loss%n", T + 1);
        }
        LrSchedule schedule = cfg.schedule();
        List<StepMetrics> history = new ArrayList<>();
        long tokensPerStep = (long) cfg.batch() * T;
        int replica = mesh.coordinate(rank, Axis.DP);
        int rows = cfg.replicaBatch();
        float scale = 1f / (cfg.batch() * (float) T);
        double lastVal = Double.NaN;
        long runStart = System.nanoTime();
        TrainingSampler samplePrinter = samples == null ? null : new TrainingSampler(samples, cfg, threads, report);
        CommMeter meter = new CommMeter(dp, tp.group(), cpc.group()).with(pipe == null ? List.of() : pipe.groups());
        long tokensRun = 0;
        java.util.Map<String, List<Communicator>> traced = tracedGroups(dp, tp, cpc, pipe);
        for (int step = startStep; step <= cfg.lastStep(); step++) {
          if (tracer != null) for (List<Communicator> g : traced.values()) for (Communicator c : g) c.stats().drainWaits();
          long t0 = System.nanoTime();
          long commBefore = meter.nanos();
          long bytesBefore = meter.bytes();
          long exposedBefore = meter.exposedNanos();
          int[] tokens = sampler.trainRows(step, replica * rows, rows, T);
          weights.zeroGrad();
          double replicaLoss;
          if (pipe != null) {
            replicaLoss = pipe.step(weights, tokens, scale, tracer, rank);
          } else {
            double lossSum = 0;
            int k = cfg.accumulationSteps();
            for (int i = 0; i < k; i++) {
              weights.setLastMicroBatch(i == k - 1);
              long f0 = System.nanoTime();
              lossSum += model.forward(act, tokens, i * cfg.microBatch(), scale);
              long b0 = System.nanoTime();
              model.backward(act);
              if (tracer != null) {
                tracer.add(rank, "F mb" + i, "compute", f0, b0);
                tracer.add(rank, "B mb" + i, "compute", b0, System.nanoTime());
              }
            }
            long w0 = System.nanoTime();
            weights.finishBackward();
            if (tracer != null) tracer.add(rank, "gradient sync wait", "comm", w0, System.nanoTime());
            replicaLoss = lossSum / k;
          }
          float[] lossBuf = {(float) replicaLoss};
          dp.allReduce(lossBuf, 0, 1, ReduceOp.AVG);
          double norm = pipe == null ? opt.gradNorm(tp) : opt.gradNorm(tp, pipe.pp, pipe.first());
          float lr = (float) schedule.at(step);
          if (observer != null) {
            float[] g = full(layout, tp, pipe, weights.gatherFullGrads());
            if (report) observer.gradients(step, g);
          }
          long o0 = System.nanoTime();
          opt.step(norm, cfg.gradClip(), lr);
          if (observer != null) {
            float[] p = full(layout, tp, pipe, weights.gatherFull());
            if (report) observer.parameters(step, p);
          }
          if (tracer != null) tracer.add(rank, "optimizer step " + step, "optimizer", o0, System.nanoTime());
          long tEnd = System.nanoTime();
          double ms = (tEnd - t0) / 1e6;
          if (tracer != null) traceStep(rank, step, t0, tEnd, traced);
          tokensRun += tokensPerStep;
          double val = Double.NaN;
          boolean evalNow = canValidate && cfg.evalBatches() > 0
              && ((cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0) || step == cfg.lastStep());
          if (evalNow) {
            val = evaluate(model, act, pipe, sampler, T, dp, replica * rows);
            lastVal = val;
          }
          long exposedNanos = meter.exposedNanos() - exposedBefore;
          // Gather per-device peaks and summed communication onto every rank (exactly, in float pieces).
          long[] peaks = new long[world];
          long[] sums = exchange(all, rank, memory.peak(), peaks, meter.nanos() - commBefore,
              meter.bytes() - bytesBefore, exposedNanos);
          long peakMax = 0;
          for (long pk : peaks) peakMax = Math.max(peakMax, pk);
          StepMetrics m = new StepMetrics(step, lossBuf[0], lr, norm, tokensPerStep, ms, tokensPerStep / (ms / 1e3),
              peakMax, peaks, sums[0] / 1e6, sums[1], val, sums[2] / 1e6);
          history.add(m);
          if (metrics != null) metrics.write(m);
          if (report) progress.step(m);
          if (cfg.save() != null && cfg.saveEvery() > 0 && step % cfg.saveEvery() == 0 && step != cfg.lastStep()) {
            save(layout, tp, pipe, weights, opt, step, report);
            progress.line("saved checkpoint step " + step + " to " + cfg.save());
          }
          if (samplePrinter != null && samplePrinter.due(step, cfg.lastStep())) {
            samplePrinter.sample(step, full(layout, tp, pipe, weights.gatherFull()), progress, all);
          }
        }
        progress.finish();
        double seconds = (System.nanoTime() - runStart) / 1e9;
        if (cfg.save() != null) {
          save(layout, tp, pipe, weights, opt, cfg.lastStep(), report);
          out.printf("saved checkpoint step %d to %s%n", cfg.lastStep(), cfg.save());
        }
        float[] finalParams = full(layout, tp, pipe, weights.gatherFull());
        long stateByHand = stateBytesByHand(layout.total(), par.dp() * par.cp(), par.zero());
        // Activations, plus what context-parallel attention takes while a layer's backward runs.
        int tl = T / par.cp();
        ActivationShapes shapes = new ActivationShapes(mc, cfg.microBatch(), tl, par.tp(), tp.sp());
        long cpBuffers = Float.BYTES * cpc.attentionBufferFloats(cfg.microBatch(), tl, shapes.heads);
        long actByHand = pipe == null
            ? Float.BYTES * shapes.totalFloats(mc.layers(), par.recompute()) + cpBuffers : 0;
        if (pipe != null) pipe.close();
        return new Trainer.Result(history, lastVal, memory.peak(), stateByHand, actByHand,
            Trainer.flopsPerStep(mc, cfg.batch(), T), seconds, tokensRun, finalParams,
            List.of(memory.peakByCategory()));
      }
    }
  }

  /**
   * The groups whose waits a trace shows, by the mesh axis they serve: dp (gradients over DP x CP), tp, cp,
   * pp (the pipeline's point-to-point and the tied embedding's end-stage sum). Empty with no tracer.
   */
  private java.util.Map<String, List<Communicator>> tracedGroups(Communicator dp, TensorParallel tp,
                                                                 ContextParallel cpc, PipelineRank pipe) {
    java.util.Map<String, List<Communicator>> m = new java.util.LinkedHashMap<>();
    if (tracer == null) return m;
    m.put("dp", List.of(dp));
    if (tp.group() != null) m.put("tp", List.of(tp.group()));
    if (cpc.group() != null) m.put("cp", List.of(cpc.group()));
    if (pipe != null) m.put("pp", pipe.groups().stream().filter(java.util.Objects::nonNull).toList());
    for (List<Communicator> g : m.values()) for (Communicator c : g) c.stats().keepWaits();
    return m;
  }

  /**
   * Adds the step's span ({@code step N}, category {@code step}) and one {@code wait <axis>} span (category
   * {@code wait}, {@code args.group} the axis) per exposed communication wait of the step, for
   * {@link dev.weft.trace.StepBreakdown}.
   */
  private void traceStep(int rank, int step, long t0, long tEnd, java.util.Map<String, List<Communicator>> traced) {
    tracer.add(rank, "step " + step, "step", t0, tEnd, java.util.Map.of("step", step));
    for (var e : traced.entrySet()) {
      for (Communicator c : e.getValue()) {
        for (long[] w : c.stats().drainWaits()) {
          tracer.add(rank, "wait " + e.getKey(), "wait", w[0], w[1], java.util.Map.of("group", e.getKey()));
        }
      }
    }
  }

  /** Model state per device in fp32 at a ZeRO stage: 16P, 8P + 8P/N, 4P + 12P/N, 16P/N (bytes). */
  static long stateBytesByHand(long p, int n, int stage) {
    return switch (stage) {
      case 0 -> 16 * p;
      case 1 -> 8 * p + 8 * p / n;
      case 2 -> 4 * p + 12 * p / n;
      default -> 16 * p / n;
    };
  }

  /** Full (layout-independent) flat tensors from this rank's local ones: over TP, then over the pipeline. */
  private static float[] full(ParameterLayout layout, TensorParallel tp, PipelineRank pipe, float[] local) {
    float[] f = TpGather.assemble(tp, layout, local);
    return pipe == null ? f : pipe.assemble(new ParameterLayout(layout.spec()), f);
  }

  private void save(ParameterLayout layout, TensorParallel tp, PipelineRank pipe, ZeroWeights weights, ZeroOptimizer opt,
                    int step, boolean writer) {
    float[] params = full(layout, tp, pipe, weights.gatherFull());
    float[][] mv = opt.gatherFull();
    float[] m = full(layout, tp, pipe, mv[0]);
    float[] v = full(layout, tp, pipe, mv[1]);
    if (writer) {
      Checkpoint.save(cfg.save(), new ParameterLayout(layout.spec()), params,
          new Checkpoint.OptimizerState(m, v, opt.stepCount()), TrainingState.of(cfg, step),
          cfg.resume() != null ? cfg.resume() : cfg.init());
    }
    backend.world().barrier();
  }

  /**
   * Validation loss: the mean over {@code evalBatches} fixed validation batches of {@code batch} sequences each
   * (the same set whatever the layout), each replica taking its rows in micro-batches, summed over replicas.
   */
  private double evaluate(Decoder model, Activations act, PipelineRank pipe, BatchSampler sampler, int T, Communicator dp,
                          int firstRow) {
    double sum = 0;
    int k = cfg.accumulationSteps();
    for (int i = 0; i < cfg.evalBatches(); i++) {
      int[] tokens = sampler.valBatch(i, cfg.batch(), T);
      for (int j = 0; j < k; j++) {
        int row = firstRow + j * cfg.microBatch();
        sum += pipe == null ? model.forward(act, tokens, row, Float.NaN) : pipe.evaluate(model, tokens, row);
      }
    }
    float[] buf = {(float) sum};
    dp.allReduce(buf, 0, 1, ReduceOp.SUM);
    return buf[0] / ((double) cfg.evalBatches() * k * cfg.parallel().dp() * cfg.parallel().cp());
  }

  /**
   * One all-reduce that gives every rank each device's peak (slot per rank) and the sums over ranks of
   * communication nanoseconds, bytes and exposed nanoseconds. Longs travel as floats in 20-bit pieces, so
   * sums over up to 16 ranks stay exact.
   */
  private static long[] exchange(Communicator all, int rank, long peak, long[] peaks, long commNanos, long commBytes,
                                 long exposedNanos) {
    int world = peaks.length;
    float[] buf = new float[3 * (world + 3)];
    put(buf, rank, peak);
    put(buf, world, commNanos);
    put(buf, world + 1, commBytes);
    put(buf, world + 2, exposedNanos);
    all.allReduce(buf, 0, buf.length, ReduceOp.SUM);
    for (int r = 0; r < world; r++) peaks[r] = get(buf, r);
    return new long[] {get(buf, world), get(buf, world + 1), get(buf, world + 2)};
  }

  private static void put(float[] buf, int slot, long v) {
    buf[3 * slot] = (float) (v >>> 40);
    buf[3 * slot + 1] = (float) ((v >>> 20) & 0xFFFFF);
    buf[3 * slot + 2] = (float) (v & 0xFFFFF);
  }

  private static long get(float[] buf, int slot) {
    return ((long) buf[3 * slot] << 40) + ((long) buf[3 * slot + 1] << 20) + (long) buf[3 * slot + 2];
  }
}
