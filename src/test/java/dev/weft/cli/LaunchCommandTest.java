package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** What launch refuses up front, the exit code it passes on, and the JVM noise it keeps out of the output. */
class LaunchCommandTest {
  record Result(int code, String out, String err, Duration took) {}

  static Result launch(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    long t0 = System.nanoTime();
    CommandLine launch = new CommandLine(new LaunchCommand(new PrintStream(out, true), new PrintStream(err, true),
        Map.of()));
    java.io.StringWriter picocliErr = new java.io.StringWriter(); // Main's handler: bad input is exit 2
    launch.setErr(new java.io.PrintWriter(picocliErr, true));
    launch.setExecutionExceptionHandler(Main.commandLine().getExecutionExceptionHandler());
    int code = launch.execute(args);
    return new Result(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8) + picocliErr, Duration.ofNanos(System.nanoTime() - t0));
  }

  static final String[] FAST_JVM = {"--jvm-arg", "-Xmx128m", "--jvm-arg", "-XX:TieredStopAtLevel=1"};

  static String[] concat(String[] a, String... b) {
    String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  @Test
  void trainWithoutDevicesTcpWouldRunIndependentCopiesAndIsRefusedBeforeAnyProcessStarts() {
    Result r = launch("--nproc-per-node", "2", "--", "train", "--dp", "2");
    assertThat(r.code()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains("without --devices tcp").contains("2 independent copies")
        .contains("-- train --devices tcp").contains("'weft train --dp 2'");
    assertThat(r.out()).isEmpty();
    assertThat(r.took()).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void gradsWithoutDevicesTcpIsRefusedToo() {
    Result r = launch("--nproc-per-node", "2", "--", "grads", "--checkpoint", "x", "--tokens", "t", "--out", "o",
        "--dp", "2");
    assertThat(r.code()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains("'weft grads' without --devices tcp");
  }

  @Test
  void aCommandWithoutATcpBackendIsRefused() {
    Result r = launch("--nproc-per-node", "2", "--", "sample", "--checkpoint", "x");
    assertThat(r.code()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains("'weft sample' runs in one process").contains("without launch");
  }

  @Test
  void aLayoutOfAnotherSizeThanTheJobIsRefused() {
    Result r = launch("--nproc-per-node", "2", "--", "train", "--devices", "tcp", "--dp", "2", "--tp", "2");
    assertThat(r.code()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).contains("has 4 devices but the job has 2 ranks").contains("--nproc-per-node 4");
  }

  @Test
  void anUnknownCommandOrBadOptionIsRefused() {
    Result typo = launch("--nproc-per-node", "2", "--", "trian", "--devices", "tcp");
    assertThat(typo.code()).as(typo.err()).isEqualTo(2);
    assertThat(typo.err()).contains("'trian' after '--' is not a weft command");
    Result bad = launch("--nproc-per-node", "2", "--", "train", "--devices", "tcp", "--no-such-option");
    assertThat(bad.code()).as(bad.err()).isEqualTo(2);
    assertThat(bad.err()).contains("not valid").contains("--no-such-option");
  }

  @Test
  void badInputOnEveryRankExitsTwoNamingTheRanks() {
    Result r = launch(concat(FAST_JVM, "--nproc-per-node", "2", "--", "train", "--devices", "tcp", "--dp", "2",
        "--data", "/no/such/file.txt"));
    assertThat(r.code()).as(r.out() + r.err()).isEqualTo(2);
    assertThat(r.err()).contains("[rank 0] weft: --data /no/such/file.txt does not exist")
        .contains("rank 0 exited with code 2 (bad input)");
  }

  @Test
  void aRankThatFailedOtherwiseMakesTheExitCodeOne() {
    Result r = launch(concat(FAST_JVM, "--nproc-per-node", "3", "--main-class", ExitCodeMain.class.getName(), "--",
        "2", "1", "0"));
    assertThat(r.code()).as(r.err()).isEqualTo(1);
    assertThat(r.err()).contains("rank 0 exited with code 2 (bad input)").contains("rank 1 exited with code 1")
        .doesNotContain("rank 2 exited").doesNotContain("WARNING");
    Result allTwo = launch(concat(FAST_JVM, "--nproc-per-node", "2", "--main-class", ExitCodeMain.class.getName(),
        "--", "2", "2"));
    assertThat(allTwo.code()).as(allTwo.err()).isEqualTo(2);
  }

  /** The ranks' JVMs print the incubator warning at start-up (they run with the Vector API); launch drops it. */
  @Test
  void ranksPrintNoJvmWarningsOnlyTheirOwnLines() {
    Result r = launch(concat(FAST_JVM, "--nproc-per-node", "2", "--main-class", ExitCodeMain.class.getName(), "--",
        "0"));
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out().lines().sorted()).containsExactly("[rank 0] out of rank 0", "[rank 1] out of rank 1");
    assertThat(r.err().lines().sorted()).containsExactly("[rank 0] err of rank 0", "[rank 1] err of rank 1");
  }
}
