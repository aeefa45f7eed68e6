package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.comm.Backend;
import dev.weft.comm.Devices;
import dev.weft.plan.Job;
import dev.weft.plan.Layout;
import dev.weft.plan.MemoryModel;
import dev.weft.plan.Precision;
import dev.weft.plan.RuntimeComparison;
import dev.weft.plan.Units;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.TrainConfig;
import dev.weft.train.Verification;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code weft verify}: proves a layout computes the same model as one device. Trains the run the options describe
 * (the options of {@code weft train}) and the one-device run from the same seed on the same data for a few steps,
 * and compares per step the loss and, per tensor by its Hugging Face name, the reduced gradient and the parameter
 * after the update (see {@link Verification}). Exit 0 when all are within tolerance, 1 naming the worst tensor and
 * step, 2 on bad input (including a layout that does not fit --device-memory, said before anything runs).
 */
@Command(name = "verify", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Check that a layout trains exactly like one device: runs the layout and one device from the same "
        + "seed on the same data for a few steps, and compares per step the loss and per tensor the gradient and "
        + "the parameters.",
        "Tolerances (fp32, the precision training computes in): loss 1e-5 relative, every gradient and parameter 1e-4 "
            + "relative norm error (||x - x_1|| / ||x_1||). Stated for the lower precisions when they train: bf16 "
            + "1e-2 / 3e-2, fp16 2e-3 / 1e-2.",
        "Exit codes: 0 all within tolerance; 1 something is not (the worst tensor and step are named); 2 bad input, "
            + "or a layout that does not fit --device-memory (said before running).",
        "Runs on local devices (threads of this process); the one-device reference takes the whole batch at once "
            + "and ignores --device-memory."},
    footer = {"", "Example: weft verify --model micro --dp 2 --tp 2 --pp 2 --batch 8 --steps 2"})
public final class VerifyCommand implements Callable<Integer> {
  @Mixin ModelOptions model = new ModelOptions();

  @Mixin LayoutOptions layout = new LayoutOptions();

  @Mixin PipelineOptions pipeline = new PipelineOptions();

  @Mixin RunOptions run = new RunOptions();

  @Option(names = "--steps", description = "Optimizer steps compared (default ${DEFAULT-VALUE}).", defaultValue = "3")
  int steps;

  @Option(names = "--loss-tolerance", paramLabel = "REL", description = "Override the loss tolerance (relative).")
  Double lossTolerance;

  @Option(names = "--tensor-tolerance", paramLabel = "REL", description = "Override the gradient and parameter tolerance (relative norm error).")
  Double tensorTolerance;

  /** Wraps the layout's local backends; identity but in tests that inject a faulty communicator. */
  UnaryOperator<Backend> backends = UnaryOperator.identity();

  /** Where the report goes (tests capture it). */
  PrintStream out = System.out;

  @Override
  public Integer call() {
    TrainConfig cfg = config();
    Verification.Tolerance tol = Verification.Tolerance.FP32.with(lossTolerance, tensorTolerance);
    if (!(tol.loss() > 0) || !(tol.tensor() > 0)) {
      throw new WeftInputException("--loss-tolerance and --tensor-tolerance must be positive.");
    }
    checkFits(cfg);
    out.printf(Locale.ROOT, "verify: %s | %s | batch %d x %d tokens, micro-batch %d | %d step%s, seed %d, against one "
            + "device%n", cfg.model(), cfg.parallel(), cfg.batch(), cfg.model().context(), cfg.microBatch(), cfg.steps(),
        cfg.steps() == 1 ? "" : "s", cfg.seed());
    Verification.Report report = Verification.run(cfg, tol, out, backends);
    report.print(out);
    return report.passed() ? 0 : 1;
  }

  TrainConfig config() {
    if (layout.devices() != Devices.LOCAL) {
      throw new WeftInputException("weft verify runs both layouts in this process: drop --devices " + layout.devices
          + " (it compares on local devices, where the same code runs as over tcp).");
    }
    return run.builder(run.model(model, null), layout, pipeline).steps(steps).evalEvery(0).evalBatches(0).build()
        .validate();
  }

  /**
   * Refuses, before running, a layout whose busiest device the memory model of the runtime (the planner's
   * {@link MemoryModel.ActivationModel#WEFT_RUNTIME}) puts over --device-memory, with that device's breakdown.
   */
  static void checkFits(TrainConfig cfg) {
    long capacity = cfg.deviceMemory();
    if (capacity == DeviceMemory.UNLIMITED) return;
    Layout l = RuntimeComparison.layout(cfg.parallel(), cfg.microBatch());
    Job job = new Job(cfg.model(), cfg.batch(), Precision.FP32);
    MemoryModel.Breakdown worst = null;
    for (int s = 0; s < l.pp(); s++) {
      MemoryModel.Breakdown b = MemoryModel.stage(job, l, MemoryModel.ActivationModel.WEFT_RUNTIME, s);
      if (worst == null || b.total() > worst.total()) worst = b;
    }
    if (worst.total() > capacity) {
      throw new WeftInputException(String.format(Locale.ROOT, "%s does not fit --device-memory %s: the runtime's "
              + "memory model puts a device of pipeline stage %d at %s (weights %s, gradients %s, optimizer %s, "
              + "activations %s, embeddings and logits %s, backward scratch %s, communication buffers %s), so nothing "
              + "was run. Give more --device-memory, or a layout that fits (more --tp or --pp, --zero over --dp, "
              + "--recompute full, a smaller --micro-batch); 'weft plan' lists them.", cfg.parallel(),
          Units.bytes(capacity), worst.stage(), Units.bytes(worst.total()), Units.bytes(worst.weights()),
          Units.bytes(worst.gradients()), Units.bytes(worst.optimizer()), Units.bytes(worst.activations()),
          Units.bytes(worst.embeddingLogits()), Units.bytes(worst.backwardScratch()), Units.bytes(worst.commBuffers())));
    }
  }
}
