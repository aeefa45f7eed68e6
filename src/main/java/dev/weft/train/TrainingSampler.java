package dev.weft.train;

import dev.weft.comm.Communicator;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.decoder.Decoder;
import dev.weft.decoder.Sampler;
import dev.weft.model.ModelSpec;
import dev.weft.tensor.DeviceMemory;
import java.util.Locale;

/**
 * Samples text during training ({@link SampleSpec}). Every rank calls {@link #sample} at the same steps with
 * the full weights (gathered from every rank the way a checkpoint save gathers them, so it works under any
 * layout: tensor and pipeline parallelism, ZeRO-3); rank 0 builds a one-device copy of the model from them,
 * outside the device's memory budget, generates and prints; then every rank meets at a barrier so that none
 * waits in a collective of the next step while rank 0 is sampling.
 */
final class TrainingSampler {
  private final SampleSpec spec;
  private final ModelSpec config;
  private final int threads;
  private final String gemm;
  private final long seed;
  private final boolean report;

  TrainingSampler(SampleSpec spec, TrainConfig cfg, int threads, boolean report) {
    this.spec = spec;
    this.config = cfg.model();
    this.threads = threads;
    this.gemm = cfg.gemm();
    this.seed = cfg.seed();
    this.report = report;
  }

  /** True at the steps that sample: every {@code every} steps and the run's last step. */
  boolean due(int step, int lastStep) {
    return step % spec.every() == 0 || step == lastStep;
  }

  /** Rank 0 generates from {@code fullParams} and prints the sample; every rank then waits at a barrier. */
  void sample(int step, float[] fullParams, ProgressPrinter progress, Communicator world) {
    if (report) progress.line(generate(step, fullParams));
    world.barrier();
  }

  /** The sample's lines: a heading, then the prompt and its continuation, each line behind "| ". */
  String generate(int step, float[] fullParams) {
    int[] prompt = spec.promptIds();
    int[] out = new int[spec.tokens()];
    try (Compute cx = new Compute(threads, Gemm.byName(gemm));
         Decoder model = Decoder.onOneDevice(config, cx, DeviceMemory.unlimited("sampler"))) {
      System.arraycopy(fullParams, 0, model.params(), 0, model.params().length);
      int[] n = {0};
      new Sampler(model, spec.temperature(), 0, seed + step).generate(prompt, spec.tokens(), id -> out[n[0]++] = id);
    }
    String text = spec.prompt() + spec.text(out);
    StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "sample at step %d (%s, %s):", step,
        dev.weft.Counts.of(spec.tokens(), "token"), spec.temperature() == 0 ? "greedy"
            : String.format(Locale.ROOT, "temperature %.2g", spec.temperature())));
    for (String line : text.split("\n", -1)) sb.append("\n| ").append(line.replace("\r", ""));
    return sb.toString();
  }
}
