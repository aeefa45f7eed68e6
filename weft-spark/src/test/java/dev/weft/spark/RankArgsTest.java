package dev.weft.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.cli.GradsCommand;
import dev.weft.cli.TrainCommand;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The ranks' command line as the distributor reads and edits it, before anything reaches Spark. */
class RankArgsTest {
  @Test
  void readsOptionsInBothFormsTheLastOccurrenceCounting() {
    RankArgs a = RankArgs.of("train", List.of("--dp", "2", "--tp=2", "--dp", "3", "--sp"));
    assertThat(a.value("--dp")).contains("3");
    assertThat(a.value("--tp")).contains("2");
    assertThat(a.value("--pp")).isEmpty();
    assertThat(a.layoutRanks()).isEqualTo(6);
    assertThat(a.layoutText()).isEqualTo("--dp 3 x --tp 2");
    assertThat(a.with("--dp", "4").toList()).containsExactly("train", "--tp=2", "--sp", "--dp", "4");
  }

  @Test
  void aLayoutDegreeThatIsNotANumberIsBadInput() {
    assertThatThrownBy(() -> RankArgs.of("train", List.of("--tp", "two")).layoutRanks())
        .isInstanceOfSatisfying(WeftSparkException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("--tp 'two' is not a whole number");
  }

  @Test
  void filePathsAreMadeAbsoluteAndCheckedButResumeAutoIsNot() {
    RankArgs a = RankArgs.of("train", List.of("--data", "corpus.txt", "--save=runs/a", "--resume", "auto", "--metrics", "/m.jsonl"))
        .withAbsolutePaths(Path.of("/work/job"));
    assertThat(a.value("--data")).contains("/work/job/corpus.txt");
    assertThat(a.value("--save")).contains("/work/job/runs/a");
    assertThat(a.value("--resume")).contains("auto");
    assertThat(a.pathChecks()).containsExactly(new RankArgs.PathCheck("--data", "/work/job/corpus.txt", false),
        new RankArgs.PathCheck("--metrics", "/m.jsonl", true), new RankArgs.PathCheck("--save", "/work/job/runs/a", true));
    assertThat(RankArgs.of("env", List.of("--data", "x")).pathChecks()).isEmpty();
  }

  /** The distributor knows Weft's file options by name: they must be exactly the Path options of train and grads. */
  @Test
  void theFileOptionsAreWeftsPathOptions() {
    Set<String> known = new TreeSet<>(RankArgs.INPUT_PATHS);
    known.addAll(RankArgs.OUTPUT_PATHS);
    Set<String> weft = new TreeSet<>();
    for (Object cmd : List.of(new TrainCommand(), new GradsCommand())) {
      for (OptionSpec o : new CommandLine(cmd).getCommandSpec().options()) {
        if (o.type() == Path.class) weft.add(o.longestName());
      }
    }
    weft.add("--resume"); // a folder, or "auto" once the checkpoint issue lands (then perhaps typed String)
    assertThat(known).isEqualTo(weft);
  }

  static WeftDistributor distributor(int ranks, int maxRestarts) {
    return new WeftDistributor((SparkContext) null, ranks).maxRestarts(maxRestarts).output(System.out, System.err);
  }

  @Test
  void theDistributorRunsTheRanksOnTcpWithTheTaskCoresAsThreads() {
    RankArgs r = distributor(4, 0).prepare(RankArgs.of("train", List.of("--dp", "2", "--tp", "2")), 3);
    assertThat(r.toList()).containsExactly("train", "--dp", "2", "--tp", "2", "--devices", "tcp", "--threads", "3");
    RankArgs given = distributor(4, 0).prepare(RankArgs.of("train", List.of("--dp", "4", "--threads", "2", "--devices", "tcp")), 3);
    assertThat(given.value("--threads")).contains("2");
  }

  @Test
  void commandsThatCannotRunAsRanksOfASparkJobAreRefused() {
    assertThatThrownBy(() -> distributor(2, 0).prepare(RankArgs.of("train", List.of("--dp", "2", "--devices", "local")), 1))
        .hasMessageContaining("--devices must be tcp (or left out), got 'local'");
    assertThatThrownBy(() -> distributor(2, 0).prepare(RankArgs.of("train", List.of("--layout", "auto")), 1))
        .hasMessageContaining("--layout auto plans for this machine's devices");
    assertThatThrownBy(() -> distributor(2, 0).prepare(RankArgs.of("grads", List.of("--tp", "4")), 1))
        .hasMessageContaining("The layout --tp 4 needs 4 ranks, but the job starts 2");
    assertThatThrownBy(() -> distributor(0, 0).prepare(RankArgs.of("train", List.of()), 1))
        .hasMessageContaining("at least one rank");
  }

  @Test
  void restartsNeedTheCheckpointsOfSave() {
    assertThatThrownBy(() -> distributor(2, 1).prepare(RankArgs.of("train", List.of("--dp", "2")), 1))
        .isInstanceOfSatisfying(WeftSparkException.class, e -> assertThat(e.exitCode()).isEqualTo(2))
        .hasMessageContaining("--max-restarts 1 restarts from the checkpoints of --save DIR");
    assertThatThrownBy(() -> distributor(2, 1).prepare(RankArgs.of("train", List.of("--dp", "2", "--save", "/s", "--resume", "/old")), 1))
        .hasMessageContaining("save into its folder: --save /old --resume auto");
    assertThat(distributor(2, 1).prepare(RankArgs.of("train", List.of("--dp", "2", "--save", "/s", "--resume", "auto")), 1)
        .value("--resume")).contains("auto");
  }
}
