package dev.weft.spark;

import static dev.weft.spark.SparkTestSupport.marker;
import static dev.weft.spark.SparkTestSupport.noProcessesLeft;
import static dev.weft.spark.SparkTestSupport.testClasses;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.cli.LaunchCommand;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The distributor in local[4] mode: barrier tasks are threads of this JVM, each rank a child process of it. */
class LocalModeIT {
  static SparkContext sc;

  @BeforeAll
  static void start() {
    sc = SparkTestSupport.context("local[4]", new SparkConf());
  }

  /** A test that failed half-way must not leave its job holding the slots. */
  @AfterEach
  void cancelLeftovers() {
    sc.cancelAllJobs();
  }

  @AfterAll
  static void stop() {
    if (sc != null) sc.stop();
  }

  static WeftDistributor fake(int ranks, SparkTestSupport.Captured out, SparkTestSupport.Captured err) {
    return new WeftDistributor(sc, ranks).mainClass(FakeRank.class.getName()).extraClasspath(List.of(testClasses()))
        .rankJvmArgs(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1")).output(out.stream, err.stream);
  }

  @Test
  void everyRankGetsTheTorchrunVariablesAndItsOutputReachesTheDriver() throws Exception {
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    String marker = marker();
    WeftDistributor.Result r = fake(4, out, err).run("env", marker);
    assertThat(r.attempts()).isEqualTo(1);
    assertThat(r.ranks()).hasSize(4);
    Matcher m = Pattern.compile("\\[rank (\\d)] env RANK=(\\d) WORLD_SIZE=4 LOCAL_RANK=(\\d) LOCAL_WORLD_SIZE=4 GROUP_RANK=0"
        + " MASTER_ADDR=(\\S+) MASTER_PORT=(\\d+) TOKEN=(\\w+) pid=\\d+ ppid=\\d+ args=env " + Pattern.quote(marker)).matcher(out.text());
    int seen = 0;
    String master = null;
    while (m.find()) {
      assertThat(m.group(2)).isEqualTo(m.group(1));
      assertThat(m.group(3)).isEqualTo(m.group(1));
      String mp = m.group(4) + ":" + m.group(5) + " " + m.group(6);
      if (master == null) master = mp;
      assertThat(mp).isEqualTo(master);
      seen++;
    }
    assertThat(seen).as(out.text() + err.text()).isEqualTo(4);
    assertThat(out.text()).contains("[rank 0] weft spark: attempt 1, 4 ranks on host ");
    noProcessesLeft(marker);
  }

  /** A small dp 2 x tp 2 run: the same command under the distributor and under weft launch. */
  static List<String> smallTrain(Path dir, int steps) throws Exception {
    Path data = dir.resolve("d.txt");
    if (!Files.exists(data)) Files.writeString(data, "public static void main(String[] args) { }\n".repeat(400));
    return List.of("--layers", "2", "--d-model", "32", "--heads", "4", "--context", "16", "--steps", Integer.toString(steps),
        "--batch", "4", "--threads", "1", "--no-mfu", "--eval-batches", "0", "--data", data.toString(), "--dp", "2", "--tp", "2");
  }

  /**
   * dp 2 x tp 2 as four Spark barrier tasks equals the same layout under 'weft launch', step for step and bit for bit
   * (the same processes, variables and transport: only the starter differs). Prints the figures the issue asks for.
   */
  @Test
  void trainsLikeWeftLaunchStepForStep(@TempDir Path dir) throws Exception {
    List<String> train = smallTrain(dir, 8);

    var out = new SparkTestSupport.Captured("] step 1/");
    var err = new SparkTestSupport.Captured(null);
    Path sparkMetrics = dir.resolve("spark.jsonl");
    List<String> sparkArgs = new ArrayList<>(train);
    sparkArgs.addAll(List.of("--metrics", sparkMetrics.toString()));
    long t0 = System.nanoTime();
    new WeftDistributor(sc, 4).rankJvmArgs(List.of("-Xmx512m")).output(out.stream, err.stream)
        .run("train", sparkArgs.toArray(String[]::new));
    double sparkFirstStep = (out.firstSeenNanos - t0) / 1e9;

    var lout = new SparkTestSupport.Captured("] step 1/");
    var lerr = new SparkTestSupport.Captured(null);
    Path launchMetrics = dir.resolve("launch.jsonl");
    List<String> launchArgs = new ArrayList<>(List.of("--nproc-per-node", "4", "--jvm-arg", "-Xmx512m", "--", "train"));
    launchArgs.addAll(train);
    launchArgs.addAll(List.of("--devices", "tcp", "--metrics", launchMetrics.toString()));
    long t1 = System.nanoTime();
    int code = new CommandLine(new LaunchCommand(lout.stream, lerr.stream, Map.of())).execute(launchArgs.toArray(String[]::new));
    assertThat(code).as(lout.text() + lerr.text()).isZero();
    double launchFirstStep = (lout.firstSeenNanos - t1) / 1e9;

    List<JsonNode> s = metrics(sparkMetrics);
    List<JsonNode> l = metrics(launchMetrics);
    assertThat(s).as(out.text() + err.text()).hasSize(8);
    assertThat(l).hasSize(8);
    for (int i = 0; i < s.size(); i++) {
      assertThat(s.get(i).get("loss").asDouble()).as("loss of step %d", i + 1).isEqualTo(l.get(i).get("loss").asDouble());
    }
    assertThat(out.text()).contains("[rank 0] step 8/8");
    System.out.printf("figures: submit to first step %.2f s (weft launch %.2f s); median step %.1f ms (weft launch %.1f ms)%n",
        sparkFirstStep, launchFirstStep, medianStepMs(s), medianStepMs(l));
  }

  static List<JsonNode> metrics(Path jsonl) throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<JsonNode> rows = new ArrayList<>();
    for (String line : Files.readAllLines(jsonl)) rows.add(json.readTree(line));
    return rows;
  }

  /** The median step time, leaving out the first step (warm-up). */
  static double medianStepMs(List<JsonNode> rows) {
    double[] ms = rows.stream().skip(1).mapToDouble(n -> n.get("step_ms").asDouble()).sorted().toArray();
    return ms[ms.length / 2];
  }

  @Test
  void moreRanksThanSlotsIsRefusedBeforeSubmitting() {
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    int code = WeftSparkMain.execute(new WeftSparkMain(sc, out.stream, err.stream), "train", "--dp", "5");
    assertThat(code).isEqualTo(2);
    assertThat(err.text()).contains("needs 5 concurrent task slots (one per rank, spark.task.cpus=1 cores each), cluster has 4")
        .contains("local[5]");
  }

  @Test
  void aLayoutThatIsNotTheNumberOfRanksIsRefused() {
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    int code = WeftSparkMain.execute(new WeftSparkMain(sc, out.stream, err.stream), "--ranks", "3", "train", "--dp", "2",
        "--tp", "2");
    assertThat(code).isEqualTo(2);
    assertThat(err.text()).contains("The layout --dp 2 x --tp 2 needs 4 ranks, but the job starts 3");
  }

  @Test
  void aPathTheExecutorsCannotSeeIsNamedWithItsHostsAndRanks(@TempDir Path dir) throws Exception {
    List<String> train = new ArrayList<>(smallTrain(dir, 2));
    train.addAll(List.of("--data", "no-such-folder/corpus.txt"));
    assertThatThrownBy(() -> new WeftDistributor(sc, 4).output(System.out, System.err).run("train", train.toArray(String[]::new)))
        .isInstanceOfSatisfying(WeftSparkException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("--data " + Path.of("no-such-folder/corpus.txt").toAbsolutePath() + " does not exist on executor host")
        .hasMessageContaining("(ranks 0-3)")
        .hasMessageContaining("filesystem that every executor host mounts");
  }

  /** Weft refuses the layout (tp must divide the heads) on every rank: bad input, exit 2, not restarted. */
  @Test
  void aRankThatFailsAtOnceFailsTheJobWithItsMessageAndIsNotRestarted(@TempDir Path dir) throws Exception {
    List<String> train = new ArrayList<>(smallTrain(dir, 2));
    train.addAll(List.of("--heads", "3", "--save", dir.resolve("ckpt").toString(), "--save-every", "1"));
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    assertThatThrownBy(() -> new WeftDistributor(sc, 4).maxRestarts(2).output(out.stream, err.stream)
        .run("train", train.toArray(String[]::new)))
        .isInstanceOfSatisfying(WeftSparkException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageMatching("(?s)rank \\d on host \\S+ exited with code 2, its last lines:\n.*heads.*");
    assertThat(err.text()).doesNotContain("restarting");
    noProcessesLeft(dir.toString());
  }

  /** Rank 2 exits 7 while the others sleep: the stage fails with its message and the others' processes are stopped. */
  @Test
  void aFailedRankFailsTheStageAndTheOtherRanksAreStopped() throws Exception {
    String marker = marker();
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    assertThatThrownBy(() -> fake(4, out, err).run("fail", "2", "7", marker))
        .isInstanceOfSatisfying(WeftSparkException.class, e -> assertThat(e.exitCode()).isEqualTo(1))
        .hasMessageContaining("rank 2 on host ")
        .hasMessageContaining("exited with code 7, its last lines:\nfake failure of rank 2");
    assertThat(err.text()).contains("[rank 2] fake failure of rank 2");
    noProcessesLeft(marker);
  }

  /** Spark kills the tasks (the job is cancelled) while the ranks run: their processes stop. */
  @Test
  void whenSparkKillsTheTasksTheRanksStop() throws Exception {
    String marker = marker();
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    CompletableFuture<WeftDistributor.Result> job = CompletableFuture.supplyAsync(() -> fake(2, out, err).run("sleep", marker));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (SparkTestSupport.withMarker(marker).size() < 2 || !out.text().contains("[rank 1] sleeping")) {
      assertThat(System.nanoTime()).as("the ranks did not start: " + out.text() + err.text()).isLessThan(deadline);
      Thread.sleep(100);
    }
    sc.cancelAllJobs();
    assertThatThrownBy(() -> job.get(60, TimeUnit.SECONDS)).hasCauseInstanceOf(WeftSparkException.class);
    noProcessesLeft(marker);
  }

  /**
   * A failed attempt is retried as a new barrier stage: a fresh rendezvous (port) and job token, and --resume auto
   * for train; the retry succeeds and the job reports two attempts.
   */
  @Test
  void aFailedAttemptIsRetriedWithAFreshRendezvousAndResumeAuto(@TempDir Path dir) throws Exception {
    String marker = marker();
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    WeftDistributor.Result r = fake(2, out, err).maxRestarts(2)
        .run("train", "--fake", "fail-unless-resumed", "--dp", "2", "--save", dir.resolve("ckpt").toString(), "--save-every", "1",
            marker);
    assertThat(r.attempts()).isEqualTo(2);
    assertThat(err.text()).contains("weft spark: attempt 1 of 3 failed: rank 1 on host ")
        .contains("exited with code 3, its last lines:", "simulated crash of rank 1")
        .contains("weft spark: restarting all 2 ranks from the latest checkpoint in " + dir.resolve("ckpt") + " (--resume auto)");
    // Any rank's env line: a rank killed early in attempt 1 may never get its lines to the driver, but rank 1
    // (whose crash ends the attempt) always does.
    Matcher m = Pattern.compile("\\[rank \\d] env .* MASTER_PORT=(\\d+) TOKEN=(\\w+) .* args=(.*)").matcher(out.text());
    java.util.Set<String> first = new java.util.HashSet<>(), retry = new java.util.HashSet<>();
    while (m.find()) {
      boolean resumed = m.group(3).endsWith("--resume auto");
      if (!resumed) assertThat(m.group(3)).doesNotContain("--resume");
      (resumed ? retry : first).add(m.group(1) + " " + m.group(2));
    }
    assertThat(first).as(out.text()).hasSize(1);
    assertThat(retry).as(out.text()).hasSize(1);
    String[] a = first.iterator().next().split(" "), b = retry.iterator().next().split(" ");
    assertThat(b[0]).as("port").isNotEqualTo(a[0]);
    assertThat(b[1]).as("token").isNotEqualTo(a[1]);
    noProcessesLeft(marker);
  }
}
