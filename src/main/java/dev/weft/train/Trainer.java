package dev.weft.train;

import dev.weft.data.BatchSampler;
import dev.weft.data.Corpus;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.model.Activations;
import dev.weft.model.GPT2;
import dev.weft.model.GPT2Config;
import dev.weft.tensor.DeviceMemory;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Trains GPT-2 on one device: for each optimizer step, the global batch of the step (a pure function of
 * seed and step, so resumed runs see the same data) is cut into micro-batches whose gradients accumulate;
 * the global gradient norm is clipped; AdamW updates with the warm-up + cosine learning rate. Validation
 * loss every {@code evalEvery} steps; metrics per step to JSONL; checkpoints that resume exactly.
 */
public final class Trainer {
  /** What a run produced. */
  public record Result(List<StepMetrics> steps, double finalValLoss, long peakBytes, long stateBytes,
                       long activationBytes, double flopsPerStep, double seconds, long tokens) {}

  private final TrainConfig cfg;
  private final PrintStream out;
  private final ProgressPrinter progress;

  public Trainer(TrainConfig cfg, PrintStream out) {
    this.cfg = cfg.validate();
    this.out = out;
    this.progress = new ProgressPrinter(out, cfg.lastStep());
  }

  public Result run() {
    Corpus corpus = Corpus.load(cfg.data(), out);
    BatchSampler sampler = new BatchSampler(corpus, cfg.seed());
    GPT2Config mc = cfg.model();
    int T = mc.context();
    DeviceMemory memory = new DeviceMemory("device 0", cfg.deviceMemory());
    try (Compute cx = new Compute(cfg.threads(), Gemm.byName(cfg.gemm()));
         GPT2 model = new GPT2(mc, cx, memory);
         AdamWOptimizer opt = new AdamWOptimizer(model.layout(), memory, 0.9f, 0.95f, 1e-8f, (float) cfg.weightDecay());
         Activations act = model.newActivations(cfg.microBatch(), T);
         MetricsWriter metrics = cfg.metrics() == null ? null : new MetricsWriter(cfg.metrics())) {
      int startStep = 1;
      if (cfg.resume() != null) {
        TrainingState state = Checkpoint.load(cfg.resume(), model, opt);
        state.checkCompatible(cfg, out);
        startStep = state.step() + 1;
        out.printf("resumed from %s at step %d%n", cfg.resume(), state.step());
      } else if (cfg.init() != null) {
        Checkpoint.loadWeights(cfg.init(), model);
        out.printf("initialised from %s%n", cfg.init());
      } else {
        model.initialize(cfg.seed());
      }
      out.printf("model: %s%nbatch: %d x %d tokens (%d micro-batches of %d), %d steps, lr %.2e, %d threads, %s matmul%n",
          mc, cfg.batch(), T, cfg.accumulationSteps(), cfg.microBatch(), cfg.steps(),
          cfg.lr(), cfg.threads(), cx.gemmImpl().name());

      boolean canValidate = sampler.canValidate(T);
      if (!canValidate && cfg.evalBatches() > 0) {
        out.printf("note: the held-out part of the data is shorter than one sequence (%d tokens); no validation loss%n", T + 1);
      }
      LrSchedule schedule = cfg.schedule();
      List<StepMetrics> history = new ArrayList<>();
      long tokensPerStep = (long) cfg.batch() * T;
      double lastVal = Double.NaN;
      long runStart = System.nanoTime();
      long tokensRun = 0;
      for (int step = startStep; step <= cfg.lastStep(); step++) {
        long t0 = System.nanoTime();
        int[] tokens = sampler.trainBatch(step, cfg.batch(), T);
        model.zeroGrad();
        double lossSum = 0;
        float scale = 1f / (cfg.batch() * (float) T);
        for (int k = 0; k < cfg.accumulationSteps(); k++) {
          lossSum += model.forward(act, tokens, k * cfg.microBatch(), scale);
          model.backward(act);
        }
        double loss = lossSum / cfg.accumulationSteps();
        double norm = GradClip.clip(model.grads(), cfg.gradClip());
        float lr = (float) schedule.at(step);
        opt.step(model.params(), model.grads(), lr);
        double ms = (System.nanoTime() - t0) / 1e6;
        tokensRun += tokensPerStep;
        double val = Double.NaN;
        boolean evalNow = canValidate && cfg.evalBatches() > 0
            && ((cfg.evalEvery() > 0 && step % cfg.evalEvery() == 0) || step == cfg.lastStep());
        if (evalNow) {
          val = evaluate(model, act, sampler, T);
          lastVal = val;
        }
        StepMetrics m = new StepMetrics(step, loss, lr, norm, tokensPerStep, ms, tokensPerStep / (ms / 1e3),
            memory.peak(), new long[] {memory.peak()}, 0, 0, val);
        history.add(m);
        if (metrics != null) metrics.write(m);
        progress.step(m);
        if (cfg.save() != null && cfg.saveEvery() > 0 && step % cfg.saveEvery() == 0 && step != cfg.lastStep()) {
          Checkpoint.save(cfg.save(), model, opt, TrainingState.of(cfg, step));
        }
      }
      progress.finish();
      double seconds = (System.nanoTime() - runStart) / 1e9;
      if (cfg.save() != null) {
        Checkpoint.save(cfg.save(), model, opt, TrainingState.of(cfg, cfg.lastStep()));
        out.printf("saved checkpoint to %s%n", cfg.save());
      }
      // "By hand": 4 bytes each of parameters, gradients and the two AdamW moments, and the activation formula.
      long stateByHand = 16L * model.layout().total();
      long actByHand = Activations.bytesFor(mc, cfg.microBatch(), T, mc.vocab());
      return new Result(history, lastVal, memory.peak(), stateByHand, actByHand, flopsPerStep(mc, cfg.batch(), T),
          seconds, tokensRun);
    }
  }

  /** Mean loss over {@code evalBatches} fixed validation batches of microBatch sequences. */
  private double evaluate(GPT2 model, Activations act, BatchSampler sampler, int T) {
    double sum = 0;
    for (int i = 0; i < cfg.evalBatches(); i++) {
      int[] tokens = sampler.valBatch(i, act.B, T);
      sum += model.forward(act, tokens, 0, Float.NaN);
    }
    return sum / cfg.evalBatches();
  }

  /**
   * Model FLOPs of one step (forward + backward): 6 per parameter per token for the matrix products, plus
   * attention's 12 L C T per token (PaLM appendix B: the q k^T and att v products, forward and backward,
   * counted without the causal saving).
   */
  public static double flopsPerStep(GPT2Config c, int batch, int T) {
    double tokens = (double) batch * T;
    double nonEmbedding = c.parameterCount() - (double) c.context() * c.dModel();
    return tokens * (6 * nonEmbedding + 12.0 * c.layers() * c.dModel() * T);
  }
}
