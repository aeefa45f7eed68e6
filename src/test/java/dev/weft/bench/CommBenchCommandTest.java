package dev.weft.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class CommBenchCommandTest {
  @Test
  void medianIsTheMiddleOfTheSortedValuesAndLeavesItsInputAlone() {
    Random r = new Random(7);
    for (int len = 1; len <= 9; len++) {
      double[] xs = new double[len];
      for (int i = 0; i < len; i++) xs[i] = r.nextDouble();
      double[] before = xs.clone();
      double m = CommBenchCommand.median(xs);
      long below = java.util.Arrays.stream(xs).filter(x -> x < m).count();
      long above = java.util.Arrays.stream(xs).filter(x -> x > m).count();
      assertThat(below).isEqualTo(above);
      assertThat(xs).containsExactly(before);
    }
  }

  @Test
  void printsARatioForEveryAllReduceRowOfBothBackends() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8);
    int code = new CommandLine(new CommBenchCommand(out))
        .execute("--size-mib", "1", "--iters", "3", "--ranks", "2", "--transports", "auto");
    String text = buf.toString(StandardCharsets.UTF_8);
    assertThat(code).as(text).isZero();
    assertThat(text).containsPattern("local allReduce +2 +1 MiB .*memcpy [0-9.]+ +[0-9]+%")
        .containsPattern("tcp allReduce \\[shm\\] +2 +1 MiB .*raw socket [0-9.]+ +[0-9]+%")
        .containsPattern("tcp allReduce latency \\[shm\\] +4 +4 KiB")
        .contains("median of 3 ops");
  }
}
