package dev.weft.spark;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The spark-submit entry point:
 * {@code spark-submit --class dev.weft.spark.WeftSparkMain weft-spark.jar [OPTIONS] train --dp 2 --tp 2 ...}.
 * Starts a SparkContext from spark-submit's settings (with {@link WeftDistributor#configure}), runs the weft
 * command on its ranks with a {@link WeftDistributor}, stops the context and exits 0, 2 (bad input) or 1.
 */
@Command(name = "weft-spark", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Run a weft command (train, grads) as ranks gang-scheduled by Spark's barrier execution mode, e.g."
        + " 'spark-submit --class dev.weft.spark.WeftSparkMain weft-spark.jar train --dp 2 --tp 2 --save /shared/run'.")
public final class WeftSparkMain implements Callable<Integer> {
  @Option(names = "--ranks", description = "Ranks to start (default: the product of the command's --dp --tp --pp --cp).")
  Integer ranks;

  @Option(names = "--max-restarts", defaultValue = "0",
      description = "Retry a failed attempt this many times, each from the latest checkpoint in --save (default 0).")
  int maxRestarts;

  @Option(names = "--slot-wait", defaultValue = "120", paramLabel = "SECONDS",
      description = "How long to wait for executors to offer a task slot per rank (default 120).")
  int slotWaitSeconds;

  @Option(names = "--rank-jvm-arg", paramLabel = "FLAG", description = "A JVM flag for every rank, e.g. -Xmx4g (repeatable).")
  List<String> rankJvmArgs = new ArrayList<>();

  @Option(names = "--spark-log-level", defaultValue = "WARN", paramLabel = "LEVEL",
      description = "Spark's own log level on the driver (default WARN, so that the ranks' lines stand out; INFO for Spark's detail).")
  String sparkLogLevel;

  @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "The weft command and its options, e.g. train --dp 2 --tp 2.")
  List<String> command = new ArrayList<>();

  private final SparkContext given;
  private final PrintStream out;
  private final PrintStream err;

  public WeftSparkMain() {
    this(null, System.out, System.err);
  }

  /** For tests: run on this context (left running) and print here. */
  WeftSparkMain(SparkContext given, PrintStream out, PrintStream err) {
    this.given = given;
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) {
    System.exit(execute(new WeftSparkMain(), args));
  }

  /** Parses {@code args}, runs, and returns the exit code (messages printed to the command's stderr). */
  static int execute(WeftSparkMain main, String... args) {
    CommandLine cl = new CommandLine(main);
    cl.setStopAtPositional(true);
    cl.setParameterExceptionHandler((ex, a) -> {
      main.err.println("weft spark: " + ex.getMessage() + " (see --help)");
      return 2;
    });
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      if (ex instanceof WeftSparkException w) {
        main.err.println("weft spark: " + w.getMessage());
        return w.exitCode();
      }
      main.err.println("weft spark: error: " + ex);
      ex.printStackTrace(main.err);
      return 1;
    });
    return cl.execute(args);
  }

  @Override
  public Integer call() {
    String cmd = command.get(0);
    String[] args = command.subList(1, command.size()).toArray(String[]::new);
    int n = ranks != null ? ranks : RankArgs.of(cmd, List.of(args)).layoutRanks();
    SparkContext sc = given != null ? given
        : SparkContext.getOrCreate(WeftDistributor.configure(new SparkConf().setIfMissing("spark.app.name", "weft " + cmd)
            .setIfMissing("spark.log.level", sparkLogLevel)));
    try {
      WeftDistributor.Result r = new WeftDistributor(sc, n).maxRestarts(maxRestarts)
          .slotWait(Duration.ofSeconds(slotWaitSeconds)).rankJvmArgs(rankJvmArgs).output(out, err).run(cmd, args);
      err.printf("weft spark: %d ranks finished in %.1f s (%d attempt%s)%n", n, r.elapsed().toMillis() / 1e3,
          r.attempts(), r.attempts() == 1 ? "" : "s");
      return 0;
    } finally {
      if (given == null) sc.stop();
    }
  }
}
