package dev.weft.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;

/** What the Spark tests share: a context, captured output, the test classes for the ranks, and the orphan check. */
final class SparkTestSupport {
  private SparkTestSupport() {}

  /** A SparkContext for {@code master} as a Weft job would configure it, without the web UI. */
  static SparkContext context(String master, SparkConf extra) {
    SparkConf conf = WeftDistributor.configure(extra.setMaster(master).setAppName("weft-spark test")
        .set("spark.ui.enabled", "false"));
    return new SparkContext(conf);
  }

  /** The folder of the compiled test classes (FakeRank), for the ranks' class path. */
  static String testClasses() {
    return System.getProperty("weft.test.classes", "target/test-classes");
  }

  /** A marker argument no other test uses, to find this test's rank processes. */
  static String marker() {
    return "--marker=" + UUID.randomUUID();
  }

  /** Waits up to 10 s for every process whose command line holds {@code marker} to be gone, then asserts none is left. */
  static void noProcessesLeft(String marker) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    List<ProcessHandle> left = withMarker(marker);
    while (!left.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(100);
      left = withMarker(marker);
    }
    assertThat(left.stream().map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList())
        .as("rank processes left behind").isEmpty();
  }

  /**
   * True once process {@code pid} has exited: gone, or a zombie. An orphan that exits stays a zombie until the
   * machine's init reaps it, which is slow on some machines, and ProcessHandle counts zombies as alive.
   */
  static boolean exited(long pid) {
    try {
      String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
      return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
    } catch (java.io.IOException gone) {
      return true;
    }
  }

  /** Waits up to {@code timeout} for process {@code pid} to exit; true when it has. */
  static boolean awaitExit(long pid, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!exited(pid)) {
      if (System.nanoTime() > deadline) return false;
      Thread.sleep(50);
    }
    return true;
  }

  static List<ProcessHandle> withMarker(String marker) {
    return ProcessHandle.allProcesses()
        .filter(p -> p.isAlive() && p.info().commandLine().map(c -> c.contains(marker)).orElse(false)).toList();
  }

  /** Output captured in memory, with the time the first line containing {@code watch} arrived. */
  static final class Captured {
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final PrintStream stream;
    volatile long firstSeenNanos;

    Captured(String watch) {
      stream = new PrintStream(bytes, true, StandardCharsets.UTF_8) {
        @Override
        public void println(String x) {
          if (watch != null && firstSeenNanos == 0 && x.contains(watch)) firstSeenNanos = System.nanoTime();
          super.println(x);
        }
      };
    }

    String text() {
      return bytes.toString(StandardCharsets.UTF_8);
    }
  }
}
