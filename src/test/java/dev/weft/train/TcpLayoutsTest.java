package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.cli.LaunchCommand;
import dev.weft.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/**
 * Parallel layouts over real processes: 'weft launch' starts the ranks (two, or four for the last two) that train
 * with --devices tcp (data parallel at ZeRO-3; tensor parallel with sequence parallelism; a two-stage pipeline;
 * context parallel; a two-stage pipeline whose stages are context parallel; one whose stages are ZeRO-3
 * data parallel); their
 * per-step losses equal the same layout run as threads within 1e-5 relative (the tcp ring sums in another
 * order, so only rounding may differ).
 */
class TcpLayoutsTest {
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"--dp 2 --zero 3", "--tp 2 --sp", "--pp 2 --micro-batch 1", "--cp 2",
      "--pp 2 --cp 2 --micro-batch 1", "--pp 2 --dp 2 --zero 3 --micro-batch 1"})
  void processesTrainLikeThreads(String layout, @TempDir Path dir) throws Exception {
    Path data = dir.resolve("d.txt");
    Files.writeString(data, "public static void main(String[] args) { }\n".repeat(400));
    String[] train = {"train", "--layers", "2", "--d-model", "32", "--heads", "4", "--context", "16", "--steps", "6",
        "--batch", "4", "--threads", "1", "--no-mfu", "--eval-batches", "0", "--data", data.toString()};
    train = concat(train, layout.split(" "));
    Path local = dir.resolve("local.jsonl");
    assertThat(Main.execute(concat(train, "--metrics", local.toString()))).isZero();

    Path tcp = dir.resolve("tcp.jsonl");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    List<String> args = new ArrayList<>(List.of("--nproc-per-node", Integer.toString(worldSize(layout)), "--jvm-arg",
        "-Xmx512m", "--"));
    args.addAll(List.of(concat(train, "--devices", "tcp", "--metrics", tcp.toString())));
    int code = new CommandLine(new LaunchCommand(new PrintStream(out, true), new PrintStream(err, true), Map.of()))
        .execute(args.toArray(String[]::new));
    String log = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
    assertThat(code).as(log).isZero();

    List<Double> a = losses(local);
    List<Double> b = losses(tcp);
    assertThat(b).as(log).hasSize(6);
    for (int i = 0; i < a.size(); i++) {
      assertThat(Math.abs(a.get(i) - b.get(i)) / a.get(i)).as("step %d", i + 1).isLessThan(1e-5);
    }
  }

  /** The product of the layout's --dp, --tp, --pp and --cp degrees. */
  static int worldSize(String layout) {
    String[] a = layout.split(" ");
    int n = 1;
    for (int i = 0; i + 1 < a.length; i++) {
      if (List.of("--dp", "--tp", "--pp", "--cp").contains(a[i])) n *= Integer.parseInt(a[i + 1]);
    }
    return n;
  }

  static List<Double> losses(Path jsonl) throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<Double> l = new ArrayList<>();
    for (String line : Files.readAllLines(jsonl)) {
      JsonNode n = json.readTree(line);
      l.add(n.get("loss").asDouble());
    }
    return l;
  }

  static String[] concat(String[] a, String... b) {
    String[] r = new String[a.length + b.length];
    System.arraycopy(a, 0, r, 0, a.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
