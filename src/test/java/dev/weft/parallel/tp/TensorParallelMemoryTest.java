package dev.weft.parallel.tp;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.decoder.Activations;
import dev.weft.model.FlatWeights;
import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What tensor and sequence parallelism save, measured on the devices against the predicted figures. */
class TensorParallelMemoryTest {
  static final ModelSpec MODEL = new GPT2Config(4, 64, 4, 32, 250).spec();

  /**
   * Per-device parameter bytes: 1/t of every split matrix (wte padded to a multiple of t), plus the
   * replicated wpe, LayerNorms and row-parallel biases: 4 (Vp C/t + T C + L (12 C^2/t + 7 C/t + 6 C) + 2 C).
   */
  @ParameterizedTest(name = "tp={0}")
  @ValueSource(ints = {1, 2, 4})
  void parameterBytesPerDeviceAreTheSplitShareAndTheReplicatedRest(int t) {
    long c = MODEL.dModel(), vp = (MODEL.vocab() + t - 1) / t * t;
    long expected = 4 * (vp * c / t + MODEL.context() * c
        + MODEL.layers() * (12 * c * c / t + 7 * c / t + 6 * c) + 2 * c);
    for (int rank = 0; rank < t; rank++) {
      DeviceMemory mem = DeviceMemory.unlimited("device " + rank);
      try (FlatWeights w = new FlatWeights(new ParameterLayout(MODEL, t, rank), mem)) {
        long paramBytes = mem.inUse() / 2; // parameters and gradients are the same size
        assertThat((double) paramBytes / expected).as("rank %d", rank).isBetween(0.95, 1.05);
      }
    }
  }

  /**
   * Sequence parallelism keeps 1/t of the residual-stream activations (ln1, res2, ln2, res3 per layer, the
   * embedding output and lnf, and their statistics) and adds gather scratch (two [N,C] and two [N/t,C]):
   * the measured peak falls by exactly the predicted difference of the activation formulas.
   */
  @Test
  void sequenceParallelismLowersThePeakByThePredictedAmount(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("d.txt");
    Files.writeString(data, "class A { int x; }\n".repeat(500));
    long without = peak(data, false);
    long with = peak(data, true);
    long predicted = ActivationShapes.totalBytes(MODEL, 4, 32, 2, false, false)
        - ActivationShapes.totalBytes(MODEL, 4, 32, 2, true, false);
    assertThat(predicted).isPositive();
    assertThat(without - with).isEqualTo(predicted);
  }

  static long peak(Path data, boolean sp) {
    TrainConfig cfg = TrainConfig.builder(MODEL).steps(2).batch(4).microBatch(4).lr(1e-3).warmup(0).seed(1).evalEvery(0).evalBatches(0).threads(1).data(data).parallel(Parallelism.builder().tp(2).sp(sp).build()).build();
    return new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).run().peakBytes();
  }
}
