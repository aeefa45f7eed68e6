package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.comm.Devices;
import dev.weft.io.SafeTensorsFile;
import dev.weft.io.SafeTensorsWriter;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.decoder.Activations;
import dev.weft.decoder.Decoder;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.Checkpoint;
import dev.weft.train.Gradients;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code weft grads}: one forward and backward of a checkpoint on given token ids ([B, T+1] int32 in a
 * safetensors file, tensor {@code tokens}); writes {@code loss} (a scalar, the mean over B*T positions) and
 * the gradient of that loss for every parameter under its name.
 */
@Command(name = "grads", mixinStandardHelpOptions = true, sortOptions = false,
    description = "One forward and backward on given tokens; writes the loss and every parameter's gradient.")
public final class GradsCommand implements Callable<Integer> {
  @Mixin LayoutOptions layout = new LayoutOptions();

  @Mixin PipelineOptions pipeline = new PipelineOptions();

  @Option(names = "--micro-batch", description = "Sequences per micro-batch (default: each replica's whole share; one per micro-batch through a pipeline).")
  Integer microBatch;

  @Option(names = "--checkpoint", required = true, paramLabel = "DIR|FILE", description = "Model folder or .safetensors file.")
  Path checkpoint;

  @Option(names = "--tokens", required = true, paramLabel = "FILE", description = "safetensors file with int32 'tokens' [B, T+1].")
  Path tokens;

  @Option(names = "--out", required = true, paramLabel = "FILE.safetensors", description = "Where to write loss and gradients.")
  Path out;

  @Option(names = "--threads", description = "Compute threads (default: the machine's cores).")
  Integer threads;

  @Option(names = "--matmul", defaultValue = "vector", description = "vector, scalar or openblas (default ${DEFAULT-VALUE}).")
  String matmul;

  private static int rankFromEnv() {
    String r = System.getenv("RANK");
    return r == null || r.isBlank() ? 0 : Integer.parseInt(r.trim());
  }

  @Override
  public Integer call() {
    ModelSpec config = Checkpoint.readConfig(checkpoint);
    int[] ids;
    int B, T1;
    if (!Files.isRegularFile(tokens)) {
      throw new WeftInputException("--tokens " + tokens + " does not exist; give a safetensors file with an int32 tensor 'tokens' of shape [B, T+1].");
    }
    try (SafeTensorsFile st = SafeTensorsFile.open(tokens)) {
      if (!st.has("tokens")) {
        throw new WeftInputException(tokens + " has no tensor 'tokens'; it needs an int32 tensor 'tokens' of shape [B, T+1] (found: " + st.names() + ").");
      }
      int[] shape = st.shape("tokens");
      if (shape.length != 2 || shape[0] < 1 || shape[1] < 2) {
        throw new WeftInputException(tokens + ": 'tokens' has shape " + Arrays.toString(shape) + "; it must be [B, T+1] with B >= 1 and T >= 1.");
      }
      B = shape[0];
      T1 = shape[1];
      ids = st.ints("tokens");
    }
    int T = T1 - 1;
    if (T > config.context()) {
      throw new WeftInputException(tokens + " has sequences of " + T + " tokens (plus the last target), more than the model's context " + config.context() + ".");
    }
    ParameterLayout params = new ParameterLayout(config);
    float[] weights = Checkpoint.readWeights(checkpoint, params);
    Parallelism par = layout.parallelism(pipeline);
    Devices devices = layout.devices();
    Gradients.Result g = Gradients.compute(params, weights, ids, B, T, new Gradients.Options(par,
        microBatch != null ? microBatch : 0, devices, layout.commTimeout(), threads != null ? threads : 0,
        matmul.toLowerCase(Locale.ROOT)));
    if (devices == Devices.LOCAL || rankFromEnv() == 0) {
      SafeTensorsWriter w = new SafeTensorsWriter();
      w.add("loss", new float[] {g.loss()});
      for (ParameterLayout.Param p : params.params()) {
        w.add(p.name(), Arrays.copyOfRange(g.grads(), p.offset(), p.offset() + p.size()), p.shape());
      }
      w.write(out);
      System.out.printf(Locale.ROOT, "loss %.6f over %d x %d tokens; gradients of %s written to %s%n",
          g.loss(), B, T, dev.weft.Counts.of(params.params().size(), "parameter"), out);
    }
    return 0;
  }
}
