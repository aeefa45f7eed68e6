package dev.weft.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.rdd.RDD;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Runs a Weft command ({@code train}, {@code grads}) as {@code numRanks} ranks gang-scheduled by Spark's barrier
 * execution mode: {@code new WeftDistributor(sc, 4).run("train", "--dp", "2", "--tp", "2")}. The Spark
 * counterpart of {@code weft launch}: every rank is a child JVM of one barrier task (see {@link RankTask}),
 * started together with all the others or not at all, on the tcp backend (shared memory between ranks on one
 * executor host). The ranks' output reaches this driver's stdout and stderr, each line prefixed
 * {@code [rank i] }.
 *
 * <p>Before submitting, the driver checks the command (the layout's degrees multiply to {@code numRanks}; the
 * ranks are processes, so {@code --devices tcp}; file paths made absolute against the driver's working
 * directory and checked on every executor), Spark (barrier mode, no dynamic allocation) and the cluster's task
 * slots, waiting for executors to register. Each rank gets {@code --threads spark.task.cpus} unless the command
 * says otherwise.
 *
 * <p>Restarts: an attempt that fails (a rank exits non-zero, an executor is lost) is retried up to
 * {@link #maxRestarts} times, each retry a new barrier stage with a fresh rendezvous and job token; for
 * {@code train} every retry passes {@code --resume auto}, which resumes from the latest complete checkpoint in
 * {@code --save DIR}, so a lost executor costs the steps since the last checkpoint. Bad input (a failed check,
 * a rank exiting with Weft's code 2) is never retried.
 */
public final class WeftDistributor {
  /** The bound {@link #configure} gives {@code spark.barrier.sync.timeout} (Spark's default is 365 days). */
  public static final String SYNC_TIMEOUT = "300s";
  /** How long the driver waits for executors to offer a slot for every rank, by default. */
  public static final Duration DEFAULT_SLOT_WAIT = Duration.ofSeconds(120);

  private final SparkContext sc;
  private final int numRanks;
  private int maxRestarts;
  private Duration slotWait = DEFAULT_SLOT_WAIT;
  private List<String> rankJvmArgs = List.of();
  private String mainClass = "dev.weft.cli.Main";
  private List<String> extraClasspath = List.of();
  private PrintStream out = System.out;
  private PrintStream err = System.err;

  /** What a finished job did: how many attempts it took, how long, and each rank's line ("rank 0 on host a: exit 0 ..."). */
  public record Result(int attempts, Duration elapsed, List<String> ranks) {}

  public WeftDistributor(SparkContext sc, int numRanks) {
    this.sc = sc;
    this.numRanks = numRanks;
  }

  public WeftDistributor(JavaSparkContext jsc, int numRanks) {
    this(jsc.sc(), numRanks);
  }

  /**
   * The settings a Weft job wants before its SparkContext starts: a bounded {@code spark.barrier.sync.timeout}
   * (a rank that never reaches the rendezvous then fails the attempt instead of hanging it for a year). Values
   * already set are kept.
   */
  public static SparkConf configure(SparkConf conf) {
    return conf.setIfMissing("spark.barrier.sync.timeout", SYNC_TIMEOUT);
  }

  /** Retries a failed attempt up to {@code n} times (default 0), each from the latest checkpoint. */
  public WeftDistributor maxRestarts(int n) {
    if (n < 0) throw new WeftSparkException(2, "--max-restarts must be 0 or more, got " + n + ".");
    this.maxRestarts = n;
    return this;
  }

  /** How long to wait for executors to offer a task slot for every rank (default 120 s). */
  public WeftDistributor slotWait(Duration d) {
    this.slotWait = d;
    return this;
  }

  /** JVM flags for every rank, e.g. {@code -Xmx4g}; the Vector API and native-access flags are always given. */
  public WeftDistributor rankJvmArgs(List<String> args) {
    this.rankJvmArgs = List.copyOf(args);
    return this;
  }

  /** Where the ranks' output and the distributor's messages go (default System.out and System.err). */
  public WeftDistributor output(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
    return this;
  }

  /** For tests: the main class the ranks run instead of Weft's command line. */
  WeftDistributor mainClass(String name) {
    this.mainClass = name;
    return this;
  }

  /** For tests: class path entries every rank gets after weft-spark's own. */
  WeftDistributor extraClasspath(List<String> entries) {
    this.extraClasspath = List.copyOf(entries);
    return this;
  }

  /**
   * Runs {@code command args...} on {@code numRanks} ranks and returns when every rank has exited 0.
   *
   * @throws WeftSparkException naming the problem: exit code 2 for bad input, 1 when the last attempt failed
   */
  public Result run(String command, String... args) {
    long t0 = System.nanoTime();
    SparkSupport.checkBarrierSupport(sc);
    SparkSupport.checkNoDynamicAllocation(sc.getConf());
    RankArgs first = prepare(RankArgs.of(command, List.of(args)), sc.getConf().getInt("spark.task.cpus", 1));
    RankArgs restart = first.command().equals("train") ? first.with("--resume", "auto") : first;
    if (!sc.getConf().contains("spark.barrier.sync.timeout")) {
      err.println("weft spark: spark.barrier.sync.timeout is Spark's default, 365 days: a rank that never reaches the"
          + " rendezvous would hang the job. Set it (WeftDistributor.configure(conf), or --conf"
          + " spark.barrier.sync.timeout=" + SYNC_TIMEOUT + ").");
    }
    for (int attempt = 1; ; attempt++) {
      RankArgs a = attempt == 1 ? first : restart;
      try {
        SparkSupport.awaitSlots(sc, numRanks, slotWait, err);
        List<String> ranks = runAttempt(attempt, a);
        return new Result(attempt, Duration.ofNanos(System.nanoTime() - t0), ranks);
      } catch (WeftSparkException e) {
        throw e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new WeftSparkException(1, "interrupted while waiting for executors", e);
      } catch (Exception e) { // SparkException is a checked exception that Scala code throws undeclared
        RankFailure f = RankFailure.find(e);
        if (f != null && f.isBadInput()) throw new WeftSparkException(2, f.detail(), e);
        String why = f != null ? f.detail() : sparkReason(e);
        if (attempt > maxRestarts) {
          throw new WeftSparkException(1, "attempt " + attempt + (maxRestarts > 0 ? " of " + (maxRestarts + 1) : "")
              + " failed: " + why, e);
        }
        err.println("weft spark: attempt " + attempt + " of " + (maxRestarts + 1) + " failed: " + why);
        err.println("weft spark: restarting all " + numRanks + " ranks" + (restart != first
            ? " from the latest checkpoint in " + first.value("--save").orElse("?") + " (--resume auto)" : ""));
      }
    }
  }

  private List<String> runAttempt(int attempt, RankArgs a) {
    String driverHost = sc.getConf().get("spark.driver.host", "localhost");
    try (DriverLog log = DriverLog.open(driverHost, randomHex(), out, err)) {
      RankTask.Spec spec = new RankTask.Spec(attempt, a.toList(), mainClass, rankJvmArgs, extraClasspath, randomHex(),
          log.endpoint(), a.pathChecks());
      String group = "weft-" + randomHex().substring(0, 8);
      sc.setJobGroup(group, "weft " + a.command() + ": " + numRanks + " ranks, attempt " + attempt, true);
      try {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(sc);
        ClassTag<String> tag = ClassTag$.MODULE$.apply(String.class);
        RDD<String> ranks = jsc.parallelize(IntStream.range(0, numRanks).boxed().toList(), numRanks).rdd()
            .barrier().mapPartitions(new RankTask(spec), false, tag);
        return new JavaRDD<>(ranks, tag).collect();
      } finally {
        sc.clearJobGroup();
      }
    } catch (IOException e) {
      throw new WeftSparkException(1, "cannot open the driver's log port for the ranks' output: " + e.getMessage(), e);
    }
  }

  /** Checks the command against the job and makes it ready for ranks of {@code taskCpus} cores (see the class comment). */
  RankArgs prepare(RankArgs a, int taskCpus) {
    if (numRanks < 1) throw new WeftSparkException(2, "The job needs at least one rank, got " + numRanks + ".");
    if (!a.isRankCommand()) return a;
    String devices = a.value("--devices").orElse("tcp");
    if (!devices.equals("tcp")) {
      throw new WeftSparkException(2, "The ranks of a Spark job are processes: --devices must be tcp (or left out),"
          + " got '" + devices + "'.");
    }
    if (a.value("--layout").filter(v -> v.equals("auto")).isPresent()) {
      throw new WeftSparkException(2, "--layout auto plans for this machine's devices; on Spark give the layout"
          + " (--dp, --tp, --pp, --cp), whose degrees multiply to the number of ranks.");
    }
    if (a.layoutRanks() != numRanks) {
      throw new WeftSparkException(2, "The layout " + a.layoutText() + " needs " + a.layoutRanks() + " rank"
          + (a.layoutRanks() == 1 ? "" : "s") + ", but the job starts " + numRanks + ": make the degrees multiply to "
          + numRanks + ", or start " + a.layoutRanks() + ".");
    }
    RankArgs r = a.with("--devices", "tcp");
    if (!r.has("--threads")) r = r.with("--threads", Integer.toString(taskCpus));
    r = r.withAbsolutePaths(Path.of("").toAbsolutePath());
    if (maxRestarts > 0 && r.command().equals("train")) {
      if (!r.has("--save")) {
        throw new WeftSparkException(2, "--max-restarts " + maxRestarts + " restarts from the checkpoints of --save DIR"
            + " (--resume auto): add --save DIR on a filesystem every executor sees, and --save-every N.");
      }
      String resume = r.value("--resume").orElse("auto");
      if (!resume.equals("auto") && !resume.equals(r.value("--save").get())) {
        throw new WeftSparkException(2, "--resume " + resume + " with --max-restarts: a restart resumes from --save's"
            + " folder (--resume auto), not from " + resume + ". To continue that run with restarts, save into its"
            + " folder: --save " + resume + " --resume auto.");
      }
      if (!r.has("--save-every")) {
        err.println("weft spark: without --save-every N the only checkpoint is the one at the end: a restart starts"
            + " over from step 0.");
      }
    }
    return r;
  }

  /** The first lines of a Spark failure, without stack traces. */
  static String sparkReason(Throwable e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    if (m.contains("UnsupportedClassVersionError")) {
      return "an executor runs a Java older than 25, which weft-spark and Weft's ranks need: run the executors on a"
          + " JDK 25 (JAVA_HOME in spark-env.sh, spark.executorEnv.JAVA_HOME, or the container image's JDK).";
    }
    // Spark's framing of a failed barrier stage says nothing the user can act on; what follows it does.
    m = m.replaceFirst("^Job aborted due to stage failure: ", "")
        .replaceFirst("^Could not recover from a failed barrier ResultStage\\. Most recent failure reason: ", "")
        .replaceFirst("^Stage failed because barrier task .+? finished unsuccessfully\\.\\s*", "");
    StringBuilder b = new StringBuilder();
    for (String line : m.split("\n")) {
      if (line.startsWith("\tat ") || line.startsWith("Driver stacktrace")) break;
      if (b.length() > 0) b.append(' ');
      b.append(line.strip());
      if (b.length() > 600) break;
    }
    return b.toString();
  }

  private static String randomHex() {
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
