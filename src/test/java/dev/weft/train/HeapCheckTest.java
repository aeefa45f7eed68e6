package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.cli.Main;
import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelShape;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.parallel.Parallelism;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HeapCheckTest {
  /** The model of issue #18's report: micro with one layer of width 12288 and 4 heads (1.8 billion parameters). */
  static final ModelSpec WIDE = Families.preset("micro", new ModelShape(1, 12288, 4, null, null, null, null));

  static TrainConfig config(ModelSpec m, Parallelism p, int batch) {
    return TrainConfig.builder(m).parallel(p).batch(batch).steps(1).build().validate();
  }

  @Test
  void theBoundIsTheRuntimesOwnModelStateAndActivations() {
    TrainConfig one = config(WIDE, Parallelism.SINGLE, 2);
    long[] r = HeapCheck.rankBytes(one);
    assertThat(r[0]).isEqualTo(16 * WIDE.parameterCount()); // weights, gradients, two AdamW moments in fp32
    assertThat(r[1]).isEqualTo(4 * new ActivationShapes(WIDE, 2, WIDE.context(), 1, false).totalFloats(1, false));
    // ZeRO-3 over 4 data-parallel ranks: 16P / 4 each.
    TrainConfig z3 = config(WIDE, Parallelism.builder().dp(4).zero(3).build(), 4);
    assertThat(HeapCheck.rankBytes(z3)[0]).isEqualTo(16 * WIDE.parameterCount() / 4);
  }

  @Test
  void aRunBeyondTheHeapIsRefusedWithTheFixAndOneWithinItPasses() {
    TrainConfig cfg = config(WIDE, Parallelism.SINGLE, 2);
    long need = HeapCheck.rankBytes(cfg)[0] + HeapCheck.rankBytes(cfg)[1];
    assertThatThrownBy(() -> HeapCheck.check(cfg, 1, 8L << 30)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("WEFT_JAVA_OPTS=-Xmx").hasMessageContaining("8.00 GiB").hasMessageContaining("--d-model");
    assertThatCode(() -> HeapCheck.check(cfg, 1, need)).doesNotThrowAnyException();
    // Local ranks share the JVM: two of them need twice the heap.
    TrainConfig dp2 = config(WIDE, Parallelism.builder().dp(2).build(), 2);
    long each = HeapCheck.rankBytes(dp2)[0] + HeapCheck.rankBytes(dp2)[1];
    assertThatCode(() -> HeapCheck.check(dp2, 1, each)).doesNotThrowAnyException();
    assertThatThrownBy(() -> HeapCheck.check(dp2, 2, 2 * each - 1)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("2 ranks x");
  }

  /** The command of the report, in a JVM of 256 MiB: exit 2 within seconds, the fix named, no stack trace. */
  @Test
  void theReportedCommandExitsTwoUpFrontInASmallHeap(@TempDir Path dir) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector",
        "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-Xmx256m", "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "train", "--d-model", "12288", "--heads", "4",
        "--layers", "1", "--no-mfu", "--save", dir.resolve("out").toString()))
        .redirectOutput(dir.resolve("out.txt").toFile()).redirectError(dir.resolve("err.txt").toFile()).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    String err = Files.readString(dir.resolve("err.txt"));
    assertThat(p.exitValue()).as(err).isEqualTo(2);
    assertThat(err).contains("WEFT_JAVA_OPTS=-Xmx").contains("Java heap").doesNotContain("OutOfMemoryError")
        .doesNotContain("\tat ");
    assertThat(dir.resolve("out")).doesNotExist();
  }
}
