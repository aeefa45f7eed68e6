package dev.weft.spark;

import static dev.weft.spark.SparkTestSupport.marker;
import static dev.weft.spark.SparkTestSupport.noProcessesLeft;
import static dev.weft.spark.SparkTestSupport.testClasses;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distributor on real executor processes: Spark's local-cluster[2,2,1024] mode, a standalone master and two
 * workers inside this JVM, each worker running one executor process with two task slots. The executors' class
 * path is the module's Maven class path, linked into SPARK_HOME/jars (SPARK_HOME and SPARK_SCALA_VERSION are set
 * by the build); the application jar (weft-spark.jar, as spark-submit would ship it) reaches them through
 * spark.jars, and the ranks run from it.
 */
class ClusterModeIT {
  static SparkContext sc;

  @BeforeAll
  static void start() throws IOException {
    linkSparkHome();
    sc = SparkTestSupport.context("local-cluster[2,2,1024]", new SparkConf().set("spark.jars", System.getProperty("weft.spark.jar")));
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

  /** SPARK_HOME/jars: a link to every jar of the test class path, which is where executors find Spark. */
  static void linkSparkHome() throws IOException {
    Path jars = Path.of(System.getenv("SPARK_HOME")).resolve("jars");
    if (Files.isDirectory(jars)) {
      try (Stream<Path> old = Files.list(jars)) {
        for (Path p : old.toList()) Files.delete(p);
      }
    }
    Files.createDirectories(jars);
    String cp = Files.readString(Path.of(System.getProperty("weft.test.classpath"))).strip();
    for (String entry : cp.split(java.io.File.pathSeparator)) {
      Path jar = Path.of(entry);
      if (jar.toString().endsWith(".jar")) Files.createSymbolicLink(jars.resolve(jar.getFileName()), jar);
    }
  }

  static WeftDistributor fake(int ranks, SparkTestSupport.Captured out, SparkTestSupport.Captured err) {
    return new WeftDistributor(sc, ranks).mainClass(FakeRank.class.getName()).extraClasspath(List.of(testClasses()))
        .rankJvmArgs(List.of("-Xmx64m", "-XX:TieredStopAtLevel=1")).output(out.stream, err.stream);
  }

  /** rank -> {pid, ppid} from the env lines the fake ranks printed. */
  static Map<Integer, long[]> pids(String out) {
    Map<Integer, long[]> m = new HashMap<>();
    Matcher x = Pattern.compile("\\[rank (\\d+)] env .* pid=(\\d+) ppid=(\\d+)").matcher(out);
    while (x.find()) m.put(Integer.parseInt(x.group(1)), new long[] {Long.parseLong(x.group(2)), Long.parseLong(x.group(3))});
    return m;
  }

  static String commandLine(long pid) {
    return ProcessHandle.of(pid).flatMap(p -> p.info().commandLine()).orElse("");
  }

  /** Four ranks land two by two in the two executor processes, and dp 2 x tp 2 trains across them. */
  @Test
  void ranksRunInTwoExecutorProcessesAndTrain(@TempDir Path dir) throws Exception {
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    String marker = marker();
    CompletableFuture<WeftDistributor.Result> job =
        CompletableFuture.supplyAsync(() -> fake(4, out, err).run("train", "--fake", "sleep", "--dp", "4", marker));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    while (pids(out.text()).size() < 4) {
      assertThat(System.nanoTime()).as(out.text() + err.text()).isLessThan(deadline);
      Thread.sleep(200);
    }
    Map<Long, Integer> perExecutor = new HashMap<>();
    for (long[] p : pids(out.text()).values()) {
      perExecutor.merge(p[1], 1, Integer::sum);
      assertThat(commandLine(p[1])).contains("CoarseGrainedExecutorBackend");
    }
    assertThat(perExecutor.values()).as(out.text()).containsExactly(2, 2);
    sc.cancelAllJobs();
    try {
      job.get(60, TimeUnit.SECONDS);
    } catch (Exception expected) {
      // cancelled
    }
    noProcessesLeft(marker);

    var tout = new SparkTestSupport.Captured(null);
    var terr = new SparkTestSupport.Captured(null);
    List<String> train = new ArrayList<>(LocalModeIT.smallTrain(dir, 4));
    new WeftDistributor(sc, 4).rankJvmArgs(List.of("-Xmx512m")).output(tout.stream, terr.stream)
        .run("train", train.toArray(String[]::new));
    assertThat(tout.text()).as(tout.text() + terr.text()).contains("[rank 0] step 4/4");
  }

  /**
   * An executor SIGKILLed while its ranks run: its ranks stop by themselves (their stdin closes), Spark fails the
   * attempt and kills the other tasks (whose ranks are stopped), and the retry runs as a new barrier stage, with
   * --resume auto, once the worker has replaced the executor. No rank process is left.
   */
  @Test
  void aKilledExecutorsRanksStopAndTheAttemptIsRetriedOnItsReplacement(@TempDir Path dir) throws Exception {
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    String marker = marker();
    CompletableFuture<WeftDistributor.Result> job = CompletableFuture.supplyAsync(() -> fake(4, out, err).maxRestarts(1)
        .run("train", "--fake", "sleep-unless-resumed", "--dp", "4", "--save", dir.resolve("ckpt").toString(),
            "--save-every", "1", marker));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
    while (pids(out.text()).size() < 4) {
      assertThat(System.nanoTime()).as(out.text() + err.text()).isLessThan(deadline);
      Thread.sleep(200);
    }
    long executor = pids(out.text()).get(1)[1];
    List<Long> itsRanks = pids(out.text()).values().stream().filter(p -> p[1] == executor).map(p -> p[0]).toList();
    assertThat(itsRanks).hasSize(2);
    ProcessHandle.of(executor).orElseThrow().destroyForcibly();

    long killed = System.nanoTime();
    for (long pid : itsRanks) {
      assertThat(SparkTestSupport.awaitExit(pid, Duration.ofSeconds(10))).as("rank process %d of the killed executor stops", pid)
          .isTrue();
    }
    System.out.printf("figures: the killed executor's ranks stopped %.2f s after the kill%n", (System.nanoTime() - killed) / 1e9);
    WeftDistributor.Result r = job.get(240, TimeUnit.SECONDS);
    assertThat(r.attempts()).isEqualTo(2);
    assertThat(err.text()).contains("weft spark: attempt 1 of 2 failed: ");
    assertThat(out.text()).containsPattern("\\[rank 0] env .* args=.*--resume auto");
    noProcessesLeft(marker);
  }

  /**
   * The proof: dp 2 x tp 2 trains 60 steps with a checkpoint every 5; an executor is SIGKILLed once the
   * checkpoint of step 5 is there; the job restarts from the latest checkpoint and ends with the loss of an
   * uninterrupted run.
   */
  @Test
  @Disabled("needs 'weft train --resume auto' (resume from the latest complete checkpoint in --save DIR, else start"
      + " fresh), which the checkpoint issue adds; until then every restart fails with 'checkpoint auto does not exist'")
  void anExecutorKilledMidRunCostsOnlyTheStepsSinceTheCheckpoint(@TempDir Path dir) throws Exception {
    List<String> train = new ArrayList<>(LocalModeIT.smallTrain(dir, 60));
    Path reference = dir.resolve("reference.jsonl");
    List<String> ref = new ArrayList<>(List.of("train"));
    ref.addAll(train);
    ref.addAll(List.of("--metrics", reference.toString()));
    assertThat(Main.execute(ref.toArray(String[]::new))).isZero();

    Path ckpt = dir.resolve("ckpt");
    Path metrics = dir.resolve("spark.jsonl");
    train.addAll(List.of("--save", ckpt.toString(), "--save-every", "5", "--metrics", metrics.toString()));
    var out = new SparkTestSupport.Captured(null);
    var err = new SparkTestSupport.Captured(null);
    CompletableFuture<WeftDistributor.Result> job = CompletableFuture.supplyAsync(() -> new WeftDistributor(sc, 4)
        .maxRestarts(1).rankJvmArgs(List.of("-Xmx512m")).output(out.stream, err.stream).run("train", train.toArray(String[]::new)));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(200);
    while (savedStep(ckpt) < 5) {
      assertThat(System.nanoTime()).as(out.text() + err.text()).isLessThan(deadline);
      assertThat(job.isDone()).as("finished before an executor could be killed: " + out.text()).isFalse();
      Thread.sleep(100);
    }
    ProcessHandle rank = SparkTestSupport.withMarker(dir.toString()).getFirst();
    ProcessHandle executor = rank.parent().orElseThrow();
    assertThat(executor.info().commandLine().orElse("")).contains("CoarseGrainedExecutorBackend");
    executor.destroyForcibly();

    WeftDistributor.Result r = job.get(300, TimeUnit.SECONDS);
    assertThat(r.attempts()).isEqualTo(2);
    List<Double> want = LocalModeIT.metrics(reference).stream().map(n -> n.get("loss").asDouble()).toList();
    var got = LocalModeIT.metrics(metrics);
    System.out.println(out.text() + err.text());
    // resumed, not started over: only the first attempt trained step 1
    assertThat(out.text().split("\\[rank 0] step 1/60 ", -1)).hasSize(2);
    assertThat(got.getLast().get("step").asInt()).isEqualTo(60);
    double last = got.getLast().get("loss").asDouble();
    assertThat(Math.abs(last - want.getLast()) / want.getLast()).as(out.text() + err.text()).isLessThan(1e-5);
    noProcessesLeft(dir.toString());
  }

  /** The step of the checkpoint in {@code dir}, or 0 when there is none yet. */
  static int savedStep(Path dir) throws IOException {
    Path state = dir.resolve("training_state.json");
    if (!Files.isRegularFile(state)) return 0;
    try {
      Matcher m = Pattern.compile("\"step\"\\s*:\\s*(\\d+)").matcher(Files.readString(state));
      return m.find() ? Integer.parseInt(m.group(1)) : 0;
    } catch (IOException beingReplaced) {
      return 0;
    }
  }
}
