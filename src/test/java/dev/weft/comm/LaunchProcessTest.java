package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.cli.LaunchCommand;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** The tcp backend with real processes, started by {@link LaunchCommand}. */
class LaunchProcessTest {
  record Result(int code, String out, String err, Duration took) {}

  static Result launch(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    long t0 = System.nanoTime();
    int code = new CommandLine(new LaunchCommand(new PrintStream(out, true), new PrintStream(err, true), Map.of()))
        .execute(args);
    return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
        Duration.ofNanos(System.nanoTime() - t0));
  }

  /** The shared-memory files every rank printed: none may be left when the job has ended. */
  static void noFilesLeft(Result r) throws IOException {
    Matcher m = Pattern.compile("shm files=(\\S+)").matcher(r.out());
    int seen = 0;
    while (m.find()) {
      Path prefix = Path.of(m.group(1));
      try (Stream<Path> s = Files.list(prefix.getParent())) {
        assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(prefix.getFileName().toString())))
            .as("files left by %s", prefix).isEmpty();
      }
      seen++;
    }
    assertThat(seen).as(r.out()).isPositive();
  }

  @ParameterizedTest
  @ValueSource(strings = {"auto", "socket"})
  void threeProcessesAgreeOnEveryCollective(String transport) throws IOException {
    Result r = launch("--nproc-per-node", "3", "--main-class", TcpProcessMain.class.getName(),
        "--jvm-arg", "-Xmx256m", "--jvm-arg", "-XX:TieredStopAtLevel=1", "--jvm-arg", "-Dweft.test.transport=" + transport,
        "--", "check");
    assertThat(r.code()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).contains("transport=" + (transport.equals("auto") ? "shm" : "socket"));
    noFilesLeft(r);
    Matcher m = Pattern.compile("\\[rank (\\d)] ok checksum=(\\S+)").matcher(r.out());
    String checksum = null;
    int ranks = 0;
    while (m.find()) {
      if (checksum == null) checksum = m.group(2);
      assertThat(m.group(2)).as("rank %s", m.group(1)).isEqualTo(checksum);
      ranks++;
    }
    assertThat(ranks).as(r.out()).isEqualTo(3);
  }

  /** A rank SIGKILLed while the others are inside a shared-memory all-reduce (transport auto, the default). */
  @Test
  void aKilledRankMakesEveryoneStopAndLaunchNamesIt() throws IOException {
    Result r = launch("--nproc-per-node", "3", "--main-class", TcpProcessMain.class.getName(),
        "--jvm-arg", "-Xmx256m", "--jvm-arg", "-XX:TieredStopAtLevel=1", "--", "kill", "1");
    assertThat(r.out()).contains("transport=shm");
    assertThat(r.code()).as(r.out() + r.err()).isNotZero();
    assertThat(r.out()).contains("[rank 1] killing myself with SIGKILL");
    assertThat(r.err()).contains("rank 1 exited with code 137 (killed by signal 9)");
    // the survivors report the dead peer themselves, within the grace period
    for (int survivor : new int[] {0, 2}) {
      assertThat(r.err()).containsPattern("\\[rank " + survivor + "] error: allReduce on group \\[0, 1, 2].*lost the connection to global rank 1");
    }
    assertThat(r.took()).isLessThan(Duration.ofSeconds(25));
    noFilesLeft(r);
  }

  /**
   * A rank SIGKILLed before the first collective, while the creator waits for every rank to open the
   * new segment: the survivors fail naming it, and delete the file the dead rank never opened.
   */
  @Test
  void aRankKilledBeforeOpeningTheSegmentLeavesNoFile() throws IOException {
    Result r = launch("--nproc-per-node", "3", "--main-class", TcpProcessMain.class.getName(),
        "--jvm-arg", "-Xmx256m", "--jvm-arg", "-XX:TieredStopAtLevel=1", "--", "kill", "2", "0");
    assertThat(r.code()).as(r.out() + r.err()).isNotZero();
    assertThat(r.out()).contains("[rank 2] killing myself with SIGKILL");
    // (launch names whichever exit it sees first: the survivors fail within milliseconds of the kill)
    // Each survivor fails with a clear error: it names rank 2, or (when the segment's creator already gave up
    // and removed it) says the shared memory could not be set up.
    for (int survivor : new int[] {0, 1}) {
      assertThat(r.err()).containsPattern("\\[rank " + survivor
          + "] error: allReduce on group \\[0, 1, 2].*(global rank 2|cannot set up shared memory)");
    }
    assertThat(r.took()).isLessThan(Duration.ofSeconds(25));
    noFilesLeft(r);
  }
}
