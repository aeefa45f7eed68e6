package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.model.GPT2Config;
import java.nio.file.Path;

/**
 * Everything one training run needs, every constraint checked in one place ({@link #validate()}), each
 * error naming the option and the fix.
 *
 * @param model        the model shape
 * @param steps        total optimizer steps (the LR schedule's length)
 * @param stopAfter    stop after this step (0 = run to {@code steps}); splits a run across jobs
 * @param batch        global batch, in sequences of {@code model.context()} tokens
 * @param microBatch   sequences per micro-batch; gradients accumulate over batch / microBatch of them
 * @param lr           peak learning rate; {@code minLrFraction} of it at the end of the cosine
 * @param warmup       warm-up steps (linear)
 * @param weightDecay  AdamW decoupled weight decay for matrices and embeddings
 * @param gradClip     clip the global gradient norm to this (0 = off)
 * @param seed         seeds initialisation and batch order
 * @param evalEvery    validation loss every this many steps (0 = only at the end)
 * @param evalBatches  validation batches (of microBatch sequences) per evaluation
 * @param threads      compute threads per device
 * @param gemm         matrix-multiply implementation: vector, scalar or openblas
 * @param deviceMemory capacity of each device in bytes
 * @param data         training text (file, folder or zip); null = the JDK's own sources
 * @param metrics      JSONL file of per-step metrics, or null
 * @param save         folder to save the final checkpoint to, or null
 * @param saveEvery    also save every this many steps (0 = only at the end)
 * @param resume       training checkpoint folder to continue from, or null
 * @param init         model folder (or .safetensors) to start from instead of random weights, or null
 */
public record TrainConfig(
    GPT2Config model, int steps, int stopAfter, int batch, int microBatch, double lr, double minLrFraction,
    int warmup, double weightDecay, double gradClip, long seed, int evalEvery, int evalBatches, int threads,
    String gemm, long deviceMemory, Path data, Path metrics, Path save, int saveEvery, Path resume, Path init) {

  public int accumulationSteps() {
    return batch / microBatch;
  }

  public int lastStep() {
    return stopAfter > 0 ? Math.min(stopAfter, steps) : steps;
  }

  public LrSchedule schedule() {
    return new LrSchedule(lr, lr * minLrFraction, warmup, steps);
  }

  public TrainConfig validate() {
    if (steps <= 0) throw new WeftInputException("--steps must be positive, got " + steps + ".");
    if (stopAfter < 0) throw new WeftInputException("--stop-after must be >= 0, got " + stopAfter + ".");
    if (batch <= 0) throw new WeftInputException("--batch must be positive, got " + batch + ".");
    if (microBatch <= 0) throw new WeftInputException("--micro-batch must be positive, got " + microBatch + ".");
    if (batch % microBatch != 0) {
      throw new WeftInputException("--batch " + batch + " does not divide into micro-batches of " + microBatch
          + " sequences; choose a --micro-batch that divides the batch (e.g. " + divisors(batch) + ").");
    }
    if (!(lr > 0) || Double.isInfinite(lr)) throw new WeftInputException("--lr must be a positive number, got " + lr + ".");
    if (minLrFraction < 0 || minLrFraction > 1) throw new WeftInputException("--min-lr-fraction must be in [0, 1].");
    if (warmup < 0) throw new WeftInputException("--warmup must be >= 0, got " + warmup + ".");
    if (weightDecay < 0) throw new WeftInputException("--weight-decay must be >= 0, got " + weightDecay + ".");
    if (gradClip < 0) throw new WeftInputException("--grad-clip must be >= 0 (0 turns clipping off), got " + gradClip + ".");
    if (evalEvery < 0 || evalBatches < 0) throw new WeftInputException("--eval-every and --eval-batches must be >= 0.");
    if (threads < 1) throw new WeftInputException("--threads must be >= 1, got " + threads + ".");
    if (saveEvery < 0) throw new WeftInputException("--save-every must be >= 0, got " + saveEvery + ".");
    if (saveEvery > 0 && save == null) throw new WeftInputException("--save-every needs --save DIR.");
    return this;
  }

  private static String divisors(int n) {
    StringBuilder sb = new StringBuilder();
    for (int d = 1; d <= n && sb.length() < 40; d++) {
      if (n % d == 0) sb.append(sb.length() == 0 ? "" : ", ").append(d);
    }
    return sb.toString();
  }
}
