package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
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
 * @param threads      compute threads per device (0 = the machine's cores divided among its devices)
 * @param gemm         matrix-multiply implementation: vector, scalar or openblas
 * @param deviceMemory capacity of each device in bytes
 * @param data         training text (file, folder or zip); null = the JDK's own sources
 * @param metrics      JSONL file of per-step metrics, or null
 * @param save         folder to save the final checkpoint to, or null
 * @param saveEvery    also save every this many steps (0 = only at the end)
 * @param resume       training checkpoint folder to continue from, or null
 * @param init         model folder (or .safetensors) to start from instead of random weights, or null
 * @param parallel     how the model is laid out over devices
 */
public record TrainConfig(
    ModelSpec model, int steps, int stopAfter, int batch, int microBatch, double lr, double minLrFraction,
    int warmup, double weightDecay, double gradClip, long seed, int evalEvery, int evalBatches, int threads,
    String gemm, long deviceMemory, Path data, Path metrics, Path save, int saveEvery, Path resume, Path init,
    Parallelism parallel) {

  /**
   * The device layout of a run: dp x pp x cp x tp ranks (TP innermost, then CP, DP, PP outermost).
   *
   * @param dp             data-parallel degree (replicas; the batch is split across them)
   * @param tp             tensor-parallel degree (every weight matrix split across this many ranks)
   * @param pp             pipeline stages (consecutive layers on different ranks)
   * @param cp             context-parallel degree (every sequence split across this many ranks)
   * @param sp             Megatron sequence parallelism inside the tensor-parallel group
   * @param zero           ZeRO stage 0-3 on the data-parallel (and context-parallel) axis
   * @param schedule       pipeline schedule: naive, gpipe, 1f1b, interleaved, zb
   * @param virtualStages  model chunks per pipeline rank (interleaved)
   * @param cpAttention    ring or alltoall
   * @param devices        "local" (ranks are threads of this process) or "tcp" (this process is one rank
   *                       of a job started by 'weft launch' or another torchrun-style launcher)
   * @param commTimeoutSec bound on every communication wait
   * @param stageSplit     how layers are cut into pipeline chunks (see {@link #stagePlan})
   * @param recompute      full activation recomputation: blocks keep only their outputs, backward runs each
   *                       block's forward again (see {@link dev.weft.model.Workspace})
   */
  public record Parallelism(int dp, int tp, int pp, int cp, boolean sp, int zero, String schedule, int virtualStages,
                            String cpAttention, String devices, int commTimeoutSec, String stageSplit,
                            boolean recompute) {
    /** Without recomputation. */
    public Parallelism(int dp, int tp, int pp, int cp, boolean sp, int zero, String schedule, int virtualStages,
                       String cpAttention, String devices, int commTimeoutSec, String stageSplit) {
      this(dp, tp, pp, cp, sp, zero, schedule, virtualStages, cpAttention, devices, commTimeoutSec, stageSplit, false);
    }

    /** This layout with full activation recomputation on or off. */
    public Parallelism withRecompute(boolean on) {
      return new Parallelism(dp, tp, pp, cp, sp, zero, schedule, virtualStages, cpAttention, devices, commTimeoutSec,
          stageSplit, on);
    }

    /** With the pipeline cut into equal layer counts. */
    public Parallelism(int dp, int tp, int pp, int cp, boolean sp, int zero, String schedule, int virtualStages,
                       String cpAttention, String devices, int commTimeoutSec) {
      this(dp, tp, pp, cp, sp, zero, schedule, virtualStages, cpAttention, devices, commTimeoutSec, "count");
    }

    /**
     * How the pipeline's chunks are cut ({@code stageSplit}): "count" (equal layer counts), "params" (balanced by
     * parameter count: the embeddings weigh on the first chunk), "flops" (balanced by compute: each block's
     * matrix products and attention, the logits on the last chunk), or explicit sizes "3,2,2,1".
     */
    public dev.weft.parallel.pp.StagePlan stagePlan(ModelSpec m) {
      int v = virtualStages;
      double[] layerCost = new double[m.layers()];
      switch (stageSplit) {
        case "count" -> {
          return dev.weft.parallel.pp.StagePlan.balanced(m.layers(), pp, v);
        }
        case "params" -> {
          java.util.Arrays.fill(layerCost, m.blockParameters());
          return dev.weft.parallel.pp.StagePlan.byCost(layerCost, m.regionParameters(
              dev.weft.model.ParamSpec.Region.EMBEDDING), m.regionParameters(dev.weft.model.ParamSpec.Region.FINAL), pp, v);
        }
        case "flops" -> {
          // per token forward: 2 FLOPs per block weight, 4 T (H hd) of attention; the head's 2 V C
          java.util.Arrays.fill(layerCost, 2.0 * m.blockWeightParameters()
              + 4.0 * m.heads() * m.headDim() * m.context());
          return dev.weft.parallel.pp.StagePlan.byCost(layerCost, 0, 2.0 * m.vocab() * m.dModel(), pp, v);
        }
        default -> {
          String[] parts = stageSplit.split(",");
          int[] sizes = new int[parts.length];
          try {
            for (int i = 0; i < parts.length; i++) sizes[i] = Integer.parseInt(parts[i].trim());
          } catch (NumberFormatException e) {
            throw new WeftInputException("--stage-split takes count, params, flops or layer counts like 3,2,2,1; got '"
                + stageSplit + "'.");
          }
          int sum = java.util.Arrays.stream(sizes).sum();
          if (sum != m.layers()) {
            throw new WeftInputException("--stage-split " + stageSplit + " puts " + sum + " layers in the pipeline but the "
                + "model has " + m.layers() + "; the counts must add up to the layers.");
          }
          return dev.weft.parallel.pp.StagePlan.explicit(sizes, pp, v);
        }
      }
    }
    /** Without context parallelism. */
    public Parallelism(int dp, int tp, int pp, boolean sp, int zero, String schedule, int virtualStages,
                       String devices, int commTimeoutSec) {
      this(dp, tp, pp, 1, sp, zero, schedule, virtualStages, "ring", devices, commTimeoutSec);
    }

    /** Without pipeline or context parallelism. */
    public Parallelism(int dp, int tp, boolean sp, int zero, String devices, int commTimeoutSec) {
      this(dp, tp, 1, sp, zero, "1f1b", 1, devices, commTimeoutSec);
    }

    /** Context parallelism of degree cp by {@code method} (ring or alltoall), with data and tensor parallelism. */
    public static Parallelism context(int dp, int tp, int cp, String method, int zero) {
      return new Parallelism(dp, tp, 1, cp, false, zero, "1f1b", 1, method, "local", 300);
    }

    public static Parallelism single() {
      return new Parallelism(1, 1, false, 0, "local", 300);
    }

    /** Data parallelism only. */
    public static Parallelism dataParallel(int dp, int zero) {
      return new Parallelism(dp, 1, false, zero, "local", 300);
    }

    public int worldSize() {
      return dp * tp * pp * cp;
    }

    public dev.weft.parallel.cp.ContextParallel.Method cpMethod() {
      return cpAttention.equals("alltoall") ? dev.weft.parallel.cp.ContextParallel.Method.ALLTOALL
          : dev.weft.parallel.cp.ContextParallel.Method.RING;
    }


    @Override
    public String toString() {
      return "dp=" + dp + " tp=" + tp + " pp=" + pp + " cp=" + cp + (cp > 1 ? " (" + cpAttention + ")" : "")
          + (sp ? " sp" : "") + " zero=" + zero
          + (pp > 1 ? " schedule=" + schedule + (virtualStages > 1 ? " v=" + virtualStages : "") : "")
          + (recompute ? " recompute=full" : "");
    }

    /** Checks every constraint of the layout alone, each error naming the option and the fix. */
    public Parallelism validate() {
      if (dp < 1) throw new WeftInputException("--dp must be >= 1, got " + dp + ".");
      if (tp < 1) throw new WeftInputException("--tp must be >= 1, got " + tp + ".");
      if (pp < 1) throw new WeftInputException("--pp must be >= 1, got " + pp + ".");
      if (cp < 1) throw new WeftInputException("--cp must be >= 1, got " + cp + ".");
      if (!cpAttention.equals("ring") && !cpAttention.equals("alltoall")) {
        throw new WeftInputException("--cp-attention must be ring or alltoall, got '" + cpAttention + "'.");
      }
      if (virtualStages < 1) throw new WeftInputException("--virtual-stages must be >= 1, got " + virtualStages + ".");
      if (pp == 1 && virtualStages > 1) {
        throw new WeftInputException("--virtual-stages " + virtualStages + " needs pipeline parallelism (--pp 2 or more).");
      }
      if (sp && tp == 1) {
        throw new WeftInputException("--sp (sequence parallelism) works inside a tensor-parallel group; it needs --tp 2 or more.");
      }
      if (zero < 0 || zero > 3) throw new WeftInputException("--zero must be 0, 1, 2 or 3, got " + zero + ".");
      if (!devices.equals("local") && !devices.equals("tcp")) {
        throw new WeftInputException("--devices must be local (ranks are threads) or tcp (ranks are processes started by "
            + "'weft launch'), got '" + devices + "'.");
      }
      if (commTimeoutSec < 1) throw new WeftInputException("--comm-timeout must be >= 1 second.");
      if (recompute && pp > 1 && schedule.equals("zb")) {
        throw new WeftInputException("--recompute full with --schedule zb: the zero-bubble schedule defers each block's "
            + "weight gradients until after its input gradients, which needs every block's activations kept, and "
            + "recomputation drops them. Use --schedule 1f1b (or another) with --recompute, or --recompute none.");
      }
      return this;
    }
  }


  /** Micro-batches per replica per step. */
  public int accumulationSteps() {
    return batch / (parallel.dp() * microBatch);
  }

  /** Sequences each data-parallel replica handles per step. */
  public int replicaBatch() {
    return batch / parallel.dp();
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
    Parallelism p = parallel.validate();
    model.checkTensorParallel(p.tp());
    if (batch % p.dp() != 0) {
      throw new WeftInputException("--batch " + batch + " cannot be split evenly over --dp " + p.dp()
          + " replicas; choose a batch that is a multiple of " + p.dp() + ".");
    }
    if (replicaBatch() % microBatch != 0) {
      throw new WeftInputException("each replica's " + replicaBatch() + " sequences (--batch " + batch + " / --dp "
          + p.dp() + ") do not divide into micro-batches of " + microBatch
          + " sequences; choose a --micro-batch that divides " + replicaBatch() + " (e.g. " + divisors(replicaBatch()) + ").");
    }
    if (p.cp() > 1) {
      dev.weft.parallel.cp.CpLayout.check(model.context(), p.cp(), dev.weft.parallel.cp.CpLayout.kind(p.cpMethod()));
      if (p.cpMethod() == dev.weft.parallel.cp.ContextParallel.Method.ALLTOALL) {
        dev.weft.parallel.cp.UlyssesAttention.checkHeads(new dev.weft.kernels.Heads(model.heads() / p.tp(),
            model.kvHeads() / p.tp(), model.headDim()), p.cp());
      }
    }
    if (p.pp() > 1) {
      dev.weft.parallel.pp.Schedules.generate(p.schedule(), accumulationSteps(), p.stagePlan(model));
    }
    if (!(lr > 0) || Double.isInfinite(lr)) throw new WeftInputException("--lr must be a positive number, got " + lr + ".");
    if (minLrFraction < 0 || minLrFraction > 1) throw new WeftInputException("--min-lr-fraction must be in [0, 1].");
    if (warmup < 0) throw new WeftInputException("--warmup must be >= 0, got " + warmup + ".");
    if (weightDecay < 0) throw new WeftInputException("--weight-decay must be >= 0, got " + weightDecay + ".");
    if (gradClip < 0) throw new WeftInputException("--grad-clip must be >= 0 (0 turns clipping off), got " + gradClip + ".");
    if (evalEvery < 0 || evalBatches < 0) throw new WeftInputException("--eval-every and --eval-batches must be >= 0.");
    if (threads < 0) throw new WeftInputException("--threads must be >= 1, got " + threads + ".");
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
