package dev.weft.cli;

import dev.weft.model.ModelSpec;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.Checkpoint;
import dev.weft.train.TrainConfig;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The options of a training run that every command running one shares ({@code train}, {@code verify}): data,
 * batch and micro-batch, optimizer and learning-rate schedule, seed, compute threads and matmul, device memory
 * and the weights to start from. {@link #builder} turns them, with the model and layout options, into the run's
 * {@link TrainConfig.Builder}; each command adds its own (steps, outputs).
 */
public final class RunOptions {
  @Option(names = "--data", paramLabel = "PATH", description = "Training text: a file, a folder or a zip (default: the JDK's lib/src.zip).")
  Path data;

  @Option(names = "--batch", description = "Global batch in sequences (default ${DEFAULT-VALUE}).", defaultValue = "16")
  int batch;

  @Option(names = "--micro-batch", description = "Sequences per micro-batch (default: the whole batch).")
  Integer microBatch;

  @Option(names = "--lr", description = "Peak learning rate (default ${DEFAULT-VALUE}).", defaultValue = "3e-3")
  double lr;

  @Option(names = "--min-lr-fraction", description = "Final learning rate as a fraction of --lr (default ${DEFAULT-VALUE}).", defaultValue = "0.1")
  double minLrFraction;

  @Option(names = "--warmup", description = "Warm-up steps (default: 5%% of --steps).")
  Integer warmup;

  @Option(names = "--weight-decay", description = "AdamW weight decay (default ${DEFAULT-VALUE}).", defaultValue = "0.1")
  double weightDecay;

  @Option(names = "--grad-clip", description = "Clip the global gradient norm (0 = off; default ${DEFAULT-VALUE}).", defaultValue = "1.0")
  double gradClip;

  @Option(names = "--seed", description = "Seed of initialisation and data order (default ${DEFAULT-VALUE}).", defaultValue = "1337")
  long seed;

  @Option(names = "--threads", description = "Compute threads per device (default: the machine's cores divided among the devices on it).")
  Integer threads;

  @Option(names = "--matmul", description = "Matrix multiply: vector (pure Java), scalar or openblas (default ${DEFAULT-VALUE}).", defaultValue = "vector")
  String matmul;

  @Option(names = "--device-memory", paramLabel = "SIZE", description = "Memory of each device, e.g. 512MiB (default unlimited).")
  String deviceMemory;

  @Option(names = "--checkpoint", paramLabel = "DIR|FILE", description = "Start from these weights (a Hugging Face GPT-2 folder or a .safetensors file).")
  Path checkpoint;

  /** The model: from the folder the run starts from ({@code resume}, else --checkpoint), else the model options. */
  ModelSpec model(ModelOptions options, Path resume) {
    Path from = resume != null ? resume : checkpoint;
    if (from == null) return options.resolve();
    ModelSpec mc = Checkpoint.readConfig(from);
    options.checkAgrees(mc, from.toString());
    return mc;
  }

  /**
   * The run of {@code mc} under the layout and these options (micro-batch default: the replica's whole share, or
   * enough micro-batches to fill a pipeline: up to 2 per stage); the caller sets steps and outputs.
   */
  TrainConfig.Builder builder(ModelSpec mc, LayoutOptions layout, PipelineOptions pipeline) {
    int replica = Math.max(1, batch / Math.max(1, layout.dp));
    int pp = pipeline.pp;
    TrainConfig.Builder b = TrainConfig.builder(mc).batch(batch)
        .microBatch(microBatch != null ? microBatch : pp > 1 ? Math.max(1, replica / Math.min(replica, 2 * pp)) : replica)
        .lr(lr).minLrFraction(minLrFraction).weightDecay(weightDecay).gradClip(gradClip).seed(seed)
        .threads(threads != null ? threads : 0).gemm(matmul.toLowerCase(Locale.ROOT))
        .deviceMemory(deviceMemory == null ? DeviceMemory.UNLIMITED : parseSize(deviceMemory)).data(data)
        .init(checkpoint).parallel(layout.parallelism(pipeline)).devices(layout.devices())
        .commTimeout(layout.commTimeout());
    if (warmup != null) b.warmup(warmup);
    return b;
  }

  static long parseSize(String s) {
    try {
      return DeviceMemory.parseSize(s);
    } catch (NumberFormatException e) {
      throw new dev.weft.WeftInputException("--device-memory: " + e.getMessage());
    }
  }
}
