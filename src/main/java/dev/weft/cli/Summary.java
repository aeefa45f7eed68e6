package dev.weft.cli;

import dev.weft.bench.MatmulPeak;
import dev.weft.plan.Calibration;
import dev.weft.plan.RunPrediction;
import dev.weft.trace.RunSummary;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/**
 * The end-of-run summary: throughput, MFU against the measured matmul peak, memory, and the planner's
 * prediction for the run's own layout beside the measured step time and peaks ({@link RunSummary}).
 */
final class Summary {
  private Summary() {}

  /**
   * Prints the summary and returns it (null when no step ran): throughput, loss, memory, MFU (when
   * {@code measureMfu}), and the planner's prediction for this layout beside the measured step time and
   * per-device peaks, with whether the machine is calibrated.
   */
  static RunSummary print(PrintStream out, TrainConfig cfg, Trainer.Result r, boolean measureMfu) {
    List<StepMetrics> steps = r.steps();
    if (steps.isEmpty()) {
      out.println("summary: no steps to run (already at step " + cfg.lastStep() + ")");
      return null;
    }
    MatmulPeak.Result peak = null;
    int th = cfg.threads() > 0 ? cfg.threads() * cfg.parallel().worldSize() : Runtime.getRuntime().availableProcessors();
    if (measureMfu) peak = MatmulPeak.measure(th);
    RunPrediction prediction = null;
    String why = null;
    try {
      prediction = RunPrediction.of(cfg);
    } catch (RuntimeException e) {
      why = e.getMessage();
    }
    RunSummary s = RunSummary.of(cfg, r, peak == null ? Double.NaN : peak.gflops(), prediction, why);
    out.printf(Locale.ROOT, "summary: %s, %,d tokens in %.1f s; %,.0f tokens/s; %.1f GFLOP/s of model FLOPs%n",
        dev.weft.Counts.of(steps.size(), "step"), r.tokens(), r.seconds(), s.tokensPerS(), s.modelGflopsPerS());
    out.printf(Locale.ROOT, "         final loss %.4f%s%n", s.finalLoss(),
        s.finalValLoss() == null ? "" : String.format(Locale.ROOT, ", validation loss %.4f", s.finalValLoss()));
    long act = r.activationBytes();
    long sum = r.stateBytes() + act;
    if (cfg.parallel().pp() > 1) {
      out.printf(Locale.ROOT, "memory:  peak %s on device 0 (pipeline stashes depend on the schedule; "
          + "'weft bench pipeline' compares them with theory)%n", DeviceMemory.format(r.peakBytes()));
    } else {
      out.printf(Locale.ROOT, "memory:  peak %s on device 0; by hand: parameters + gradients + AdamW moments %s"
              + " + activations %s = %s (measured / by hand = %.3f)%n",
          DeviceMemory.format(r.peakBytes()), DeviceMemory.format(r.stateBytes()), DeviceMemory.format(act),
          DeviceMemory.format(sum), r.peakBytes() / (double) sum);
    }
    if (peak != null) {
      out.printf(Locale.ROOT, "MFU:     %.1f%% (%.1f GFLOP/s of model FLOPs over the machine's measured fp32 matmul peak "
              + "%.1f GFLOP/s, %s, %s)%n",
          100 * s.mfu(), s.modelGflopsPerS(), peak.gflops(), peak.impl(), dev.weft.Counts.of(th, "thread"));
    }
    printPrediction(out, s);
    return s;
  }

  /** The planner's lines: predicted vs measured step time and per-device peak, ratios measured / predicted. */
  static void printPrediction(PrintStream out, RunSummary s) {
    RunSummary.Prediction p = s.prediction();
    if (p.error() != null) {
      out.println("planner: no prediction for this run (" + p.error() + ")");
      return;
    }
    out.printf(Locale.ROOT, "planner: step %.1f ms predicted, %.1f ms measured (median; measured / predicted %.2f) "
        + "on %s%n", p.stepMs(), s.stepMs(), p.stepRatio(), p.machine());
    StringBuilder mem = new StringBuilder();
    long[] meas = s.peakBytesPerDevice();
    int n = Math.min(meas.length, p.bytesPerDevice().length);
    for (int i = 0; i < n; i++) {
      if (i > 0) mem.append("; ");
      mem.append(String.format(Locale.ROOT, "device %d %s predicted, %s measured (%.2f)", i,
          DeviceMemory.format(p.bytesPerDevice()[i]), DeviceMemory.format(meas[i]),
          meas[i] / (double) p.bytesPerDevice()[i]));
    }
    out.println("         peak memory: " + mem);
    out.println(p.calibrated()
        ? "         (times from this machine's calibration, " + Calibration.defaultFile() + ")"
        : "         (this machine is not calibrated: times from assumed figures; run 'weft plan --calibrate' for real ones)");
  }
}
