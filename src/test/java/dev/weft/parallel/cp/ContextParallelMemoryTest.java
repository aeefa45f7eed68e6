package dev.weft.parallel.cp;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.decoder.Activations;
import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.OutOfDeviceMemoryError;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A context too long for one device's memory trains with --cp 4, and the activation peak per rank falls by
 * the predicted factor: every activation is per token row (attention is blockwise, so nothing grows as T^2),
 * so a rank holding T/4 of each sequence holds 1/4 of the activations: predicted Activations.bytesFor(B, T/4)
 * plus the ring attention's buffers while a layer's backward runs (RingAttention.transientFloats, charged to
 * the device like everything else), held within 15% by the measurement.
 */
class ContextParallelMemoryTest {
  static final ModelSpec MODEL = new GPT2Config(2, 64, 4, 1024, 256).spec();

  @Test
  void aLongContextThatDoesNotFitOneDeviceTrainsWithCp4(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("d.txt");
    Files.writeString(data, "public final class Weft { int x = 42; }\n".repeat(2000));
    long state = 16L * new ParameterLayout(MODEL).total();
    long act1 = ActivationShapes.totalBytes(MODEL, 1, 1024, 1, false, false);
    long act4 = ActivationShapes.totalBytes(MODEL, 1, 256, 1, false, false) + 4 * RingAttention.transientFloats(1, 256, 64, 4);
    long capacity = state + (act1 + act4) / 2;
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    assertThatThrownBy(() -> new Trainer(config(data, 1, capacity), quiet).run()).isInstanceOf(OutOfDeviceMemoryError.class);
    Trainer.Result r = new Trainer(config(data, 4, capacity), quiet).run();
    long measuredActivations = r.peakBytes() - state;
    double ratio = (double) measuredActivations / act4;
    assertThat(ratio).as("measured / predicted activation peak per rank").isBetween(0.85, 1.15);
    double predictedFall = (double) act1 / act4;
    assertThat(predictedFall).as("predicted fall against one device").isGreaterThan(3);
    assertThat((double) act1 / measuredActivations / predictedFall).as("measured / predicted fall").isBetween(0.85, 1.15);
  }

  static TrainConfig config(Path data, int cp, long capacity) {
    return TrainConfig.builder(MODEL).steps(2).batch(1).microBatch(1).lr(1e-3).warmup(0).seed(1).evalEvery(0).evalBatches(0).threads(1).deviceMemory(capacity).data(data).parallel(Parallelism.builder().cp(cp).build()).build();
  }
}
