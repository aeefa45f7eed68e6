package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.comm.Devices;
import dev.weft.model.ModelSpec;
import dev.weft.parallel.Parallelism;
import dev.weft.tensor.DeviceMemory;
import java.time.Duration;
import java.nio.file.Path;

/**
 * Everything one training run needs, built with {@link #builder} (named settings; defaults as the command line's),
 * every constraint checked in one place ({@link #validate()}), each error naming the option and the fix.
 *
 * @param model        the model
 * @param steps        total optimizer steps (the LR schedule's length)
 * @param stopAfter    stop after this step (0 = run to {@code steps}); splits a run across jobs
 * @param batch        global batch, in sequences of {@code model.context()} tokens
 * @param microBatch   sequences per micro-batch; gradients accumulate over batch / microBatch of them
 * @param lr           peak learning rate; {@code minLrFraction} of it at the end of the cosine
 * @param warmup       warm-up steps (linear)
 * @param weightDecay  AdamW decoupled weight decay for the parameters the family marks (matrices, embeddings)
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
 * @param devices      whether ranks are threads of this process or processes of a launched job
 * @param commTimeout  bound on every communication wait
 */
public record TrainConfig(
    ModelSpec model, int steps, int stopAfter, int batch, int microBatch, double lr, double minLrFraction,
    int warmup, double weightDecay, double gradClip, long seed, int evalEvery, int evalBatches, int threads,
    String gemm, long deviceMemory, Path data, Path metrics, Path save, int saveEvery, Path resume, Path init,
    Parallelism parallel, Devices devices, Duration commTimeout) {

  /** A run of {@code model} with the command line's defaults, to be changed by name. */
  public static Builder builder(ModelSpec model) {
    return new Builder(model);
  }

  /** This run's settings as a builder, to change some of them. */
  public Builder toBuilder() {
    return new Builder(model).steps(steps).stopAfter(stopAfter).batch(batch).microBatch(microBatch).lr(lr)
        .minLrFraction(minLrFraction).warmup(warmup).weightDecay(weightDecay).gradClip(gradClip).seed(seed)
        .evalEvery(evalEvery).evalBatches(evalBatches).threads(threads).gemm(gemm).deviceMemory(deviceMemory)
        .data(data).metrics(metrics).save(save).saveEvery(saveEvery).resume(resume).init(init).parallel(parallel)
        .devices(devices).commTimeout(commTimeout);
  }

  /** Named settings of a run; unset micro-batch, warm-up and eval cadence follow the batch and steps. */
  public static final class Builder {
    private ModelSpec model;
    private int steps = 500, stopAfter, batch = 16, evalBatches = 4, threads, saveEvery;
    private Integer microBatch, warmup, evalEvery;
    private double lr = 3e-3, minLrFraction = 0.1, weightDecay = 0.1, gradClip = 1.0;
    private long seed = 1337, deviceMemory = DeviceMemory.UNLIMITED;
    private String gemm = "vector";
    private Path data, metrics, save, resume, init;
    private Parallelism parallel = Parallelism.SINGLE;
    private Devices devices = Devices.LOCAL;
    private Duration commTimeout = Duration.ofSeconds(300);

    private Builder(ModelSpec model) {
      this.model = model;
    }

    public Builder model(ModelSpec v) { model = v; return this; }
    public Builder steps(int v) { steps = v; return this; }
    public Builder stopAfter(int v) { stopAfter = v; return this; }
    public Builder batch(int v) { batch = v; return this; }
    /** Sequences per micro-batch (default: the whole replica batch). */
    public Builder microBatch(int v) { microBatch = v; return this; }
    public Builder lr(double v) { lr = v; return this; }
    public Builder minLrFraction(double v) { minLrFraction = v; return this; }
    /** Warm-up steps (default: 5% of the steps). */
    public Builder warmup(int v) { warmup = v; return this; }
    public Builder weightDecay(double v) { weightDecay = v; return this; }
    public Builder gradClip(double v) { gradClip = v; return this; }
    public Builder seed(long v) { seed = v; return this; }
    /** Validation every this many steps (0 = only at the end; default: 5 times a run). */
    public Builder evalEvery(int v) { evalEvery = v; return this; }
    public Builder evalBatches(int v) { evalBatches = v; return this; }
    public Builder threads(int v) { threads = v; return this; }
    public Builder gemm(String v) { gemm = v; return this; }
    public Builder deviceMemory(long v) { deviceMemory = v; return this; }
    public Builder data(Path v) { data = v; return this; }
    public Builder metrics(Path v) { metrics = v; return this; }
    public Builder save(Path v) { save = v; return this; }
    public Builder saveEvery(int v) { saveEvery = v; return this; }
    public Builder resume(Path v) { resume = v; return this; }
    public Builder init(Path v) { init = v; return this; }
    public Builder parallel(Parallelism v) { parallel = v; return this; }
    public Builder devices(Devices v) { devices = v; return this; }
    public Builder commTimeout(Duration v) { commTimeout = v; return this; }

    /** The run, without checking it (see {@link TrainConfig#validate()}). */
    public TrainConfig build() {
      int replica = Math.max(1, batch / Math.max(1, parallel.dp()));
      int mb = microBatch != null ? microBatch : replica;
      int wu = warmup != null ? warmup : Math.max(0, steps / 20);
      int ee = evalEvery != null ? evalEvery : Math.max(1, steps / 5);
      return new TrainConfig(model, steps, stopAfter, batch, mb, lr, minLrFraction, wu, weightDecay, gradClip, seed, ee,
          evalBatches, threads, gemm, deviceMemory, data, metrics, save, saveEvery, resume, init, parallel, devices,
          commTimeout);
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
    if (commTimeout.toSeconds() < 1) throw new WeftInputException("--comm-timeout must be >= 1 second.");
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
