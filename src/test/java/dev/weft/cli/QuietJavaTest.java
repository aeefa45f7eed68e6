package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/quiet-jdk/bin/java, the java that ./weft and the test JVMs run: the JVM's start-up warning about the
 * incubator module is gone, everything else arrives, in files read the moment the process has exited.
 */
class QuietJavaTest {
  static final Path QUIET_JAVA = Path.of("bin", "quiet-jdk", "bin", "java");

  record Run(int code, String out, String err) {}

  /** Runs Main through the script with the flags ./weft gives, stdout and stderr into files. */
  static Run weft(Path dir, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(QUIET_JAVA.toAbsolutePath().toString(), "--add-modules",
        "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1", "-Xmx128m", "-cp",
        System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    Path out = dir.resolve("out.txt");
    Path err = dir.resolve("err.txt");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  @Test
  void aNormalRunPrintsNoJvmWarning(@TempDir Path dir) throws Exception {
    Run r = weft(dir, "--version");
    assertThat(r.code()).isZero();
    assertThat(r.out()).isEqualTo("weft 0.1.0\n");
    assertThat(r.err()).isEmpty();
  }

  @Test
  void errorsArriveWholeWithTheirExitCode(@TempDir Path dir) throws Exception {
    Run r = weft(dir, "train", "--steps", "-1");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("weft: --steps must be positive, got -1.\n");
    assertThat(r.out()).isEmpty();
  }
}
