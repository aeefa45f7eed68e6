package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.cli.Main;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory advice is proved: every layout the out-of-device-memory message suggests is run here, with the same
 * options and device memory, and must train without running out (issue #18, item 1).
 */
class MemoryAdviceTest {
  @TempDir static Path dir;
  static Path text;

  @BeforeAll
  static void corpus() throws IOException {
    SplittableRandom r = new SplittableRandom(3);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      sb.append("int f").append(r.nextInt(1000)).append("(int x) { return x * ").append(r.nextInt(10)).append("; }\n");
    }
    text = dir.resolve("corpus.txt");
    Files.writeString(text, sb);
  }

  record Run(int code, String err) {}

  static Run train(List<String> args) {
    List<String> a = new ArrayList<>(List.of("train", "--data", text.toString(), "--steps", "1", "--no-mfu",
        "--threads", "1", "--eval-batches", "1"));
    a.addAll(args);
    StringWriter sw = new StringWriter();
    int code = Main.execute(new PrintWriter(sw, true), a.toArray(String[]::new));
    return new Run(code, sw.toString());
  }

  /** The suggested flags of an advice message: "...(each ran a step here): A (peak ..); B (peak ..)." */
  static List<List<String>> suggestions(String message) {
    int start = message.indexOf("(each ran a step here): ");
    assertThat(start).as(message).isPositive();
    List<List<String>> out = new ArrayList<>();
    Matcher m = Pattern.compile("(?:: |; )([^;:(]+?) \\(peak ").matcher(message.substring(start));
    while (m.find()) out.add(Arrays.asList(m.group(1).trim().split(" ")));
    return out;
  }

  static void everySuggestionRuns(String... base) {
    Run failed = train(List.of(base));
    assertThat(failed.code()).as(failed.err()).isEqualTo(2);
    assertThat(failed.err()).contains("out of device memory");
    List<List<String>> s = suggestions(failed.err());
    assertThat(s).as(failed.err()).isNotEmpty();
    for (List<String> flags : s) {
      List<String> args = new ArrayList<>(List.of(base));
      args.addAll(flags);
      Run r = train(args);
      assertThat(r.code()).as(flags + ": " + r.err()).isZero();
    }
  }

  /** Issue #18's case: every suggestion of the old advice (dp or tp with cp, under ZeRO-3) ran out of memory. */
  @Test
  void theReportedCaseSuggestsOnlyLayoutsThatRun() {
    everySuggestionRuns("--layers", "1", "--d-model", "512", "--heads", "8", "--context", "32", "--batch", "2",
        "--device-memory", "15MiB");
  }

  @Test
  void aSmallerModelOnTooLittleMemorySuggestsOnlyLayoutsThatRun() {
    everySuggestionRuns("--layers", "2", "--d-model", "128", "--heads", "4", "--context", "32", "--batch", "4",
        "--device-memory", "5MiB");
  }

  @Test
  void suggestionsParseFromTheMessage() {
    assertThat(suggestions("x. No layout of 1 device fits; with 8 devices these do (each ran a step here): --dp 2 --tp 4 "
        + "--micro-batch 1 (peak 13.77 MiB per device); --dp 2 --tp 4 --zero 1 (peak 12.17 MiB per device)."))
        .containsExactly(List.of("--dp", "2", "--tp", "4", "--micro-batch", "1"), List.of("--dp", "2", "--tp", "4",
            "--zero", "1"));
  }
}
