package dev.weft.cli;

import dev.weft.bench.MatmulPeak;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;

/** The end-of-run summary: throughput, MFU against the measured matmul peak, and memory by category. */
final class Summary {
  private Summary() {}

  static void print(PrintStream out, TrainConfig cfg, Trainer.Result r, boolean measureMfu) {
    List<StepMetrics> steps = r.steps();
    if (steps.isEmpty()) {
      out.println("summary: no steps to run (already at step " + cfg.lastStep() + ")");
      return;
    }
    StepMetrics last = steps.get(steps.size() - 1);
    // Throughput over the steady state: skip the first step (JIT warm-up) when there are several.
    double ms = 0;
    long tokens = 0;
    int from = steps.size() > 2 ? 1 : 0;
    for (int i = from; i < steps.size(); i++) {
      ms += steps.get(i).stepMs();
      tokens += steps.get(i).tokens();
    }
    double tokPerS = tokens / (ms / 1e3);
    double achievedGflops = r.flopsPerStep() * (steps.size() - from) / (ms / 1e3) / 1e9;
    out.printf(Locale.ROOT, "summary: %s, %,d tokens in %.1f s; %,.0f tokens/s; %.1f GFLOP/s of model FLOPs%n",
        dev.weft.Counts.of(steps.size(), "step"), r.tokens(), r.seconds(), tokPerS, achievedGflops);
    out.printf(Locale.ROOT, "         final loss %.4f%s%n", last.loss(),
        Double.isNaN(r.finalValLoss()) ? "" : String.format(Locale.ROOT, ", validation loss %.4f", r.finalValLoss()));
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
    if (measureMfu) {
      int th = cfg.threads() > 0 ? cfg.threads() * cfg.parallel().worldSize() : Runtime.getRuntime().availableProcessors();
      MatmulPeak.Result peak = MatmulPeak.measure(th);
      out.printf(Locale.ROOT, "MFU:     %.1f%% (%.1f GFLOP/s of model FLOPs over the machine's measured fp32 matmul peak "
              + "%.1f GFLOP/s, %s, %s)%n",
          100 * achievedGflops / peak.gflops(), achievedGflops, peak.gflops(), peak.impl(), dev.weft.Counts.of(th, "thread"));
    }
  }

}
