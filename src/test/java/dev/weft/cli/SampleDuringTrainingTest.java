package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train --sample-every: rank 0 prints the same sample whatever the layout, the weights gathered from all ranks. */
class SampleDuringTrainingTest {
  @TempDir static Path dir;
  static Path data;

  @BeforeAll
  static void data() throws IOException {
    data = dir.resolve("data.txt");
    Files.writeString(data, "public class A { int x = 1; }\n".repeat(300));
  }

  /** A short run that samples every {@code every} steps. */
  static String[] train(String every, String... extra) {
    String[] base = {"train", "--layers", "2", "--d-model", "16", "--heads", "2", "--context", "16", "--no-mfu",
        "--threads", "1", "--eval-batches", "0", "--data", data.toString(), "--steps", "2", "--batch", "4",
        "--sample-every", every, "--sample-tokens", "12", "--sample-temperature", "0"};
    return PrepareCommandTest.concat(base, extra);
  }

  /** The sample lines of a run's output: headings and text. */
  static List<String> samples(String out) {
    return out.lines().filter(l -> l.startsWith("sample at step") || l.startsWith("| ")).toList();
  }

  @Test
  void everyLayoutPrintsTheOneDeviceSample() {
    PrepareCommandTest.Run one = PrepareCommandTest.run(train("1", "--prompt", "public "));
    assertThat(one.code()).as(one.err()).isZero();
    List<String> want = samples(one.out());
    assertThat(want).hasSize(4);
    assertThat(want.get(0)).isEqualTo("sample at step 1 (12 tokens, greedy):");
    assertThat(want.get(1)).startsWith("| public ").hasSizeGreaterThan("| public ".length());
    assertThat(want.get(2)).startsWith("sample at step 2 ");
    for (String layout : new String[] {"--tp 2 --pp 2 --micro-batch 1", "--dp 2 --zero 3"}) {
      PrepareCommandTest.Run r = PrepareCommandTest.run(train("1", PrepareCommandTest.concat(new String[] {"--prompt", "public "},
          layout.split(" "))));
      assertThat(r.code()).as(layout + r.err()).isZero();
      assertThat(samples(r.out())).as(layout).isEqualTo(want);
    }
  }

  @Test
  void badSampleOptionsAreRefused() {
    PrepareCommandTest.Run zero = PrepareCommandTest.run(train("0"));
    assertThat(zero.code()).isEqualTo(2);
    assertThat(zero.err()).contains("--sample-every must be >= 1");
    PrepareCommandTest.Run bpe = PrepareCommandTest.run(train("1", "--vocab", "300"));
    assertThat(bpe.code()).isEqualTo(2);
    assertThat(bpe.err()).contains("has no tokenizer");
    PrepareCommandTest.Run empty = PrepareCommandTest.run(train("1", "--prompt", ""));
    assertThat(empty.code()).isEqualTo(2);
    assertThat(empty.err()).contains("--prompt must not be empty");
  }
}
