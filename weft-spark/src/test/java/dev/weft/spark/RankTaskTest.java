package dev.weft.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pure parts of a rank's task: its variables, the placement line, the checks of the job's files. */
class RankTaskTest {
  @Test
  void ranksOnOneHostAreNumberedInRankOrder() {
    String[] hosts = {"a", "a", "b", "b", "a"};
    var env = RankTask.environment(3, hosts, 4242, "tok");
    assertThat(env).containsEntry("MASTER_ADDR", "a").containsEntry("MASTER_PORT", "4242").containsEntry("RANK", "3")
        .containsEntry("WORLD_SIZE", "5").containsEntry("LOCAL_RANK", "1").containsEntry("LOCAL_WORLD_SIZE", "2")
        .containsEntry("GROUP_RANK", "1").containsEntry("WEFT_JOB_TOKEN", "tok");
    var four = RankTask.environment(4, hosts, 4242, "tok");
    assertThat(four).containsEntry("LOCAL_RANK", "2").containsEntry("LOCAL_WORLD_SIZE", "3").containsEntry("GROUP_RANK", "0");
    assertThat(RankTask.placement(hosts)).isEqualTo("host a (ranks 0, 1, 4), host b (ranks 2-3)");
  }

  @Test
  void problemsAreGroupedByHostAndRank() {
    String[] hosts = {"a", "a", "b", "b"};
    String[] gathered = {"4242\n", "0\n", "0\n--data /d does not exist", "0\n--data /d does not exist\n--save /s cannot be written"};
    assertThat(RankTask.describeProblems(gathered, hosts))
        .startsWith("--data /d does not exist on executor host b (ranks 2-3); --save /s cannot be written on executor host b (rank 3).")
        .contains("a filesystem that every executor host mounts");
    assertThat(RankTask.describeProblems(new String[] {"1\n", "0\n"}, new String[] {"a", "b"})).isNull();
  }

  @Test
  void inputsMustExistAndOutputsMustBeCreatable(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("f.txt"), "x");
    List<String> problems = RankTask.checkHere(List.of(
        new RankArgs.PathCheck("--data", file.toString(), false),
        new RankArgs.PathCheck("--checkpoint", dir.resolve("none").toString(), false),
        new RankArgs.PathCheck("--save", dir.resolve("new/deeper/run").toString(), true),
        new RankArgs.PathCheck("--metrics", file.resolve("under-a-file.jsonl").toString(), true)));
    assertThat(problems).containsExactly("--checkpoint " + dir.resolve("none") + " does not exist",
        "--metrics " + file.resolve("under-a-file.jsonl") + " cannot be created (no folder on its way exists)");
  }

  @Test
  void rankListsReadShort() {
    assertThat(RankTask.ranks(List.of(2))).isEqualTo("rank 2");
    assertThat(RankTask.ranks(List.of(0, 1, 2, 3))).isEqualTo("ranks 0-3");
    assertThat(RankTask.ranks(List.of(0, 2))).isEqualTo("ranks 0, 2");
  }

  /** A --save folder on each host's own disk: the probes the other host's ranks left are not there. */
  @Test
  void aCheckpointFolderThatTheHostsDoNotShareIsNamed(@TempDir Path dir) throws Exception {
    String token = "0123456789abcdef";
    RankTask task = new RankTask(new RankTask.Spec(1, List.of("train"), "Main", List.of(), List.of(), token, null,
        List.of(new RankArgs.PathCheck("--save", dir.resolve("run").toString(), true))));
    String[] hosts = {"a", "a", "b", "b"};
    Files.writeString(dir.resolve(RankTask.probeName(token, 0)), "a");
    Files.writeString(dir.resolve(RankTask.probeName(token, 1)), "a");
    assertThat(task.unshared(dir, 0, hosts)).startsWith("--save " + dir.resolve("run") + " is not on a filesystem the"
        + " executors share: rank 0 on host a does not see the files that ranks 2-3 on host b wrote in " + dir);
    Files.writeString(dir.resolve(RankTask.probeName(token, 2)), "b");
    Files.writeString(dir.resolve(RankTask.probeName(token, 3)), "b");
    assertThat(task.unshared(dir, 0, hosts)).isNull();
    assertThat(task.unshared(dir, 3, hosts)).isNull();
  }
}
