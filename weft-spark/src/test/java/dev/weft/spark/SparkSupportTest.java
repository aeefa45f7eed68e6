package dev.weft.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** The driver's checks of the Spark it runs on, and how failures read when they come back from the executors. */
class SparkSupportTest {
  @Test
  void aSparkWithoutBarrierModeIsNamedWithTheFix() {
    assertThatThrownBy(() -> SparkSupport.checkBarrierSupport("2.3.4", "2.11.12", name -> false))
        .isInstanceOfSatisfying(WeftSparkException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("This Spark (2.3.4) has no barrier execution mode")
        .hasMessageContaining("Run on Spark 4 built for Scala 2.13");
    assertThatThrownBy(() -> SparkSupport.checkBarrierSupport("2.4.8", "2.12.10", name -> true))
        .hasMessageContaining("allGather in 3.0");
    assertThatThrownBy(() -> SparkSupport.checkBarrierSupport("3.5.1", "2.12.18", name -> true))
        .hasMessageContaining("This Spark runs Scala 2.12.18");
    assertThatCode(() -> SparkSupport.checkBarrierSupport("4.2.0", "2.13.18", name -> true)).doesNotThrowAnyException();
    // this module's own Spark passes
    assertThatCode(() -> SparkSupport.checkBarrierSupport(org.apache.spark.package$.MODULE$.SPARK_VERSION(),
        scala.util.Properties.versionNumberString(), name -> true)).doesNotThrowAnyException();
  }

  @Test
  void dynamicAllocationIsRefusedOutsideLocalMode() {
    SparkConf conf = new SparkConf(false).set("spark.master", "yarn").set("spark.dynamicAllocation.enabled", "true");
    assertThatThrownBy(() -> SparkSupport.checkNoDynamicAllocation(conf))
        .hasMessageContaining("--conf spark.dynamicAllocation.enabled=false");
    assertThatCode(() -> SparkSupport.checkNoDynamicAllocation(conf.clone().set("spark.master", "local[4]")))
        .doesNotThrowAnyException();
  }

  @Test
  void aRankFailureIsReadBackFromTheStageAbortText() {
    String sparkText = "Job aborted due to stage failure: Could not recover from a failed barrier ResultStage. Most recent"
        + " failure reason: Stage failed because barrier task ResultTask(4, 1) finished unsuccessfully.\n"
        + "dev.weft.spark.RankFailure: EXIT 3 | rank 1 on host h exited with code 3, its last lines:\nboom\n"
        + "\tat dev.weft.spark.RankTask.run(RankTask.java:90)\n";
    RankFailure f = RankFailure.find(new RuntimeException("outer", new Exception(sparkText)));
    assertThat(f.kind()).isEqualTo(RankFailure.Kind.EXIT);
    assertThat(f.exitCode()).isEqualTo(3);
    assertThat(f.detail()).isEqualTo("rank 1 on host h exited with code 3, its last lines:\nboom");
    assertThat(f.isBadInput()).isFalse();
    assertThat(new RankFailure(RankFailure.Kind.EXIT, 2, "x").isBadInput()).isTrue();
    assertThat(new RankFailure(RankFailure.Kind.SETUP, 2, "x").isBadInput()).isTrue();
    assertThat(RankFailure.find(new RuntimeException("ExecutorLostFailure (executor 1 exited)"))).isNull();
  }

  @Test
  void sparkFailuresAreShortenedAndAnOldExecutorJavaIsNamed() {
    assertThat(WeftDistributor.sparkReason(new RuntimeException("Job aborted due to stage failure: Could not recover from a"
        + " failed barrier ResultStage. Most recent failure reason: Stage failed because barrier task ResultTask(0, 0) finished"
        + " unsuccessfully.\nExecutorLostFailure (executor 1 exited caused by one of the running tasks) Reason: Command exited"
        + " with code 137\n\tat org.apache.spark.Foo\nDriver stacktrace:")))
        .isEqualTo("ExecutorLostFailure (executor 1 exited caused by one of the running tasks) Reason: Command exited with code 137");
    assertThat(WeftDistributor.sparkReason(new RuntimeException("java.lang.UnsupportedClassVersionError: dev/weft/spark/RankTask")))
        .contains("run the executors on a JDK 25");
  }
}
