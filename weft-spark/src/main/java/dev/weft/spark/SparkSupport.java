package dev.weft.spark;

import java.io.PrintStream;
import java.time.Duration;
import java.util.function.Predicate;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;

/**
 * What the driver checks about Spark before it submits an attempt, each failure a message that names the fix:
 * that this Spark has barrier execution mode (and is the Scala 2.13 build this module is compiled against),
 * that dynamic allocation is off (Spark refuses barrier stages with it), and that the cluster has a task slot
 * for every rank, waiting a while for executors to register (Spark's own check would retry for ten minutes
 * and then fail with a message about "max concurrent tasks").
 */
final class SparkSupport {
  private SparkSupport() {}

  /**
   * Fails unless Spark has barrier mode with allGather (3.0 and later) and Scala is 2.13.
   *
   * @param hasClass whether a class of that name can be loaded (tests pass a stand-in)
   */
  static void checkBarrierSupport(String sparkVersion, String scalaVersion, Predicate<String> hasClass) {
    int major = leadingNumber(sparkVersion);
    if (major < 3 || !hasClass.test("org.apache.spark.BarrierTaskContext") || !hasClass.test("org.apache.spark.rdd.RDDBarrier")) {
      throw new WeftSparkException(2, "This Spark (" + sparkVersion + ") has no barrier execution mode with allGather,"
          + " which starts Weft's ranks together and tells them their peers (barrier mode came in Spark 2.4, allGather"
          + " in 3.0). Run on Spark 4 built for Scala 2.13 (spark-core_2.13 4.x).");
    }
    if (!scalaVersion.startsWith("2.13")) {
      throw new WeftSparkException(2, "This Spark runs Scala " + scalaVersion + "; weft-spark is built for Spark's Scala"
          + " 2.13 build. Use a Spark distribution for Scala 2.13 (the default from Spark 4 on).");
    }
  }

  /** The running Spark's own answer to {@link #checkBarrierSupport}. */
  static void checkBarrierSupport(SparkContext sc) {
    checkBarrierSupport(sc.version(), scala.util.Properties.versionNumberString(), SparkSupport::loadable);
  }

  /** Spark refuses barrier stages with dynamic allocation (SPARK-24942); say so before submitting. */
  static void checkNoDynamicAllocation(SparkConf conf) {
    boolean local = conf.get("spark.master", "").startsWith("local");
    if (conf.getBoolean("spark.dynamicAllocation.enabled", false) && !local) {
      throw new WeftSparkException(2, "Spark runs barrier stages only without dynamic allocation (SPARK-24942), and"
          + " spark.dynamicAllocation.enabled is true. Run the job with --conf spark.dynamicAllocation.enabled=false"
          + " and a fixed number of executors (--num-executors, or spark.executor.instances).");
    }
  }

  /** How many tasks the cluster can run at once now, or -1 when this Spark does not say. */
  static int slots(SparkContext sc) {
    try {
      return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
    } catch (LinkageError notInThisVersion) {
      return -1;
    }
  }

  /**
   * Returns once the cluster has {@code needed} task slots; waits up to {@code wait} for executors to register
   * (not in local mode, whose slots never change), then fails naming both numbers.
   */
  static void awaitSlots(SparkContext sc, int needed, Duration wait, PrintStream err) throws InterruptedException {
    String master = sc.master();
    boolean fixed = master.startsWith("local") && !master.startsWith("local-cluster");
    long start = System.nanoTime();
    long deadline = start + wait.toNanos();
    long nextNote = start + 10_000_000_000L;
    int have = slots(sc);
    while (have >= 0 && have < needed && !fixed && System.nanoTime() < deadline) {
      if (System.nanoTime() > nextNote) {
        err.printf("weft spark: waiting for executors: %d of %d task slots%n", have, needed);
        nextNote += 10_000_000_000L;
      }
      Thread.sleep(500);
      have = slots(sc);
    }
    if (have >= 0 && have < needed) {
      int cpus = sc.getConf().getInt("spark.task.cpus", 1);
      long waited = Math.round((System.nanoTime() - start) / 1e9);
      throw new WeftSparkException(2, "The job needs " + needed + " concurrent task slots (one per rank, spark.task.cpus="
          + cpus + " cores each), cluster has " + have + (fixed ? "" : " (after waiting " + waited + " s for executors)")
          + ". Give it more executors or cores (spark-submit --num-executors and --executor-cores; local[" + needed
          + "] in local mode) or run fewer ranks.");
    }
  }

  private static boolean loadable(String name) {
    try {
      Class.forName(name, false, SparkSupport.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  private static int leadingNumber(String version) {
    int i = 0;
    while (i < version.length() && Character.isDigit(version.charAt(i))) i++;
    return i == 0 ? 0 : Integer.parseInt(version.substring(0, i));
  }
}
