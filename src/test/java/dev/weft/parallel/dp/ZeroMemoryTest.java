package dev.weft.parallel.dp;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.comm.LocalCluster;
import dev.weft.mesh.ParallelLayout;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.OutOfDeviceMemoryError;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The model state each rank holds at each ZeRO stage, measured on its device, against the fp32 formulas
 * (P parameters, N ranks): 16P, 8P + 8P/N, 4P + 12P/N, 16P/N bytes, within 5%.
 */
class ZeroMemoryTest {
  static final ModelSpec MODEL = new GPT2Config(6, 64, 4, 32, 256).spec();

  @ParameterizedTest(name = "N={0} stage={1}")
  @CsvSource({"1,0", "1,1", "1,2", "1,3", "2,0", "2,1", "2,2", "2,3", "4,0", "4,1", "4,2", "4,3"})
  void modelStatePerDeviceMatchesTheZeroFormula(int n, int stage) throws Exception {
    ParameterLayout layout = new ParameterLayout(MODEL);
    long p = layout.total();
    long expected = switch (stage) {
      case 0 -> 16 * p;
      case 1 -> 8 * p + 8 * p / n;
      case 2 -> 4 * p + 12 * p / n;
      default -> 16 * p / n;
    };
    AtomicLongArray measured = new AtomicLongArray(n);
    LocalCluster.run(n, Duration.ofSeconds(30), b -> {
      DeviceMemory mem = DeviceMemory.unlimited("device " + b.rank());
      var group = b.group(ParallelLayout.of(n, 1, 1, 1, n).groupRanks(b.rank(), dev.weft.mesh.Axis.DP));
      try (ZeroWeights w = new ZeroWeights(stage, layout, group, mem);
           ZeroOptimizer o = new ZeroOptimizer(w, mem, 0.9f, 0.95f, 1e-8f, 0.1f)) {
        measured.set(b.rank(), mem.inUse());
      }
    });
    for (int r = 0; r < n; r++) {
      assertThat((double) measured.get(r) / expected).as("rank %d", r).isBetween(0.95, 1.05);
    }
  }

  /**
   * A model whose weights, gradients and AdamW moments (16P bytes) do not fit one device at ZeRO-0 trains
   * at ZeRO-3 on 4 devices, where each holds 16P/4 plus activations and at most a few gathered regions.
   */
  @Test
  void aModelTooLargeForOneDeviceTrainsWithZero3OnFourDevices(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("d.txt");
    Files.writeString(data, "int x = 1; // java\n".repeat(2000));
    ModelSpec model = new GPT2Config(8, 128, 4, 32, 256).spec();
    long p = new ParameterLayout(model).total();
    long capacity = 10 * p; // below 16P, above 16P/4 + activations + gathered regions
    PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
    assertThatThrownBy(() -> new Trainer(config(model, data, capacity, 4, 0), quiet).run())
        .isInstanceOf(OutOfDeviceMemoryError.class).hasMessageContaining("out of device memory");
    Trainer.Result r = new Trainer(config(model, data, capacity, 4, 3), quiet).run();
    assertThat(r.steps()).hasSize(3);
    assertThat(r.peakBytes()).isLessThanOrEqualTo(capacity);
  }

  static TrainConfig config(ModelSpec m, Path data, long capacity, int dp, int zero) {
    return TrainConfig.builder(m).steps(3).batch(4).microBatch(1).lr(1e-3).warmup(0).seed(1).evalEvery(0).evalBatches(0).threads(1).deviceMemory(capacity).data(data).parallel(Parallelism.builder().dp(dp).zero(zero).build()).build();
  }
}
