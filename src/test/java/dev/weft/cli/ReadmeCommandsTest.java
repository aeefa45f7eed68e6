package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.weft.data.Gpt2TokenizerFixtures;
import dev.weft.io.SafeTensorsWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README is executable: every {@code ./weft ...} line of its shell blocks runs, in document order (a
 * later line may use what an earlier one saved), shortened so the whole file takes seconds, not hours:
 *
 * <ul>
 *   <li>train: without --data, a small seeded text; no MFU measurement; 2 steps (4 when resuming), 1
 *       evaluation batch (not for a line whose output the README shows); without a checkpoint to take the shape from, a context of 32 (64 with --cp) and, for the
 *       mini preset, a width of 96 (its 6 heads and every tensor-parallel degree in the README still divide
 *       it). Every option the line gives is kept.</li>
 *   <li>verify: the text above, a context of 32. sample: 20 tokens. launch: the ranks' train as above on a one-layer model of width 32, context 16,
 *       batch 2, in JVMs with a small heap and only the quick compiler (four JVMs start on two cores; at
 *       this size the Vector API's code runs fast enough without C2).</li>
 *   <li>bench: the smallest sizes each benchmark takes (a nano model, 1 MiB all-reduces on the local backend,
 *       one repetition).</li>
 *   <li>Relative paths (runs/mini, my-code.zip, path/to/gpt2, tokens.safetensors...) live in a temporary
 *       folder that the test fills first: a zip of text, a GPT-2-shaped model folder with a test BPE
 *       tokenizer, a tokens file.</li>
 *   <li>A {@code $ ./weft ...} line is followed by the output the README promises: a {@code weft: ...} line is
 *       an error (exit 2, stderr starting so), another line must appear in stdout ("..." ends a prefix).</li>
 * </ul>
 *
 * <p>A line that cannot run here is listed in {@link #NOT_RUN} with the reason; a listed line that is no longer
 * in the README fails the test, so the list stays true. Every command's output must be free of JVM warnings.
 */
class ReadmeCommandsTest {
  static final Path README = Path.of("README.md");

  /** README lines (their start) that are not run here, and why. */
  static final Map<String, String> NOT_RUN = Map.of(
      "./weft plan --calibrate", "measures this machine's matmul, collectives and training steps at fixed sizes for"
          + " a minute or more; CalibrationTest checks the fit on recorded measurements",
      "./weft bench gemm", "times GPT-2 small's three GEMM shapes (about 10 GFLOP a call) against OpenBLAS with"
          + " warm-ups, with no size option: a minute on 2 cores; GemmBenchCommandTest and VectorGemmTest cover it");

  @TempDir static Path dir;
  static Path text;
  static final List<String> log = new ArrayList<>();

  /** One README line: where it is, what it says, and the output it promises (for $ lines). */
  record Line(int number, String text, List<String> expected) {
    String name() {
      return "README.md:" + number + "  " + text;
    }
  }

  record Run(int code, String out, String err) {}

  @BeforeAll
  static void files() throws IOException {
    SplittableRandom r = new SplittableRandom(42);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 1500; i++) {
      sb.append("public static int f").append(r.nextInt(100)).append("(int x) { return x * ").append(r.nextInt(10))
          .append(" + 1; }\n");
    }
    text = dir.resolve("readme-text.txt");
    Files.writeString(text, sb);
    try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(dir.resolve("my-code.zip")))) {
      for (int i = 0; i < 5; i++) {
        z.putNextEntry(new ZipEntry("src/File" + i + ".java"));
        z.write(sb.substring(i * 1000, i * 1000 + 8000).getBytes(StandardCharsets.UTF_8));
        z.closeEntry();
      }
    }
    // A GPT-2-shaped folder: config.json and model.safetensors (vocabulary 267) with a BPE tokenizer beside them.
    Path gpt2 = dir.resolve("path/to/gpt2");
    Run made = weft(List.of("train", "--layers", "1", "--d-model", "16", "--heads", "2", "--context", "16", "--vocab",
        Integer.toString(Gpt2TokenizerFixtures.VOCAB_SIZE), "--steps", "1", "--batch", "2", "--no-mfu", "--data",
        text.toString(), "--save", gpt2.toString()));
    assertThat(made.code()).as(made.err()).isZero();
    Gpt2TokenizerFixtures.writeTokenizer(gpt2);
    int[] ids = new int[2 * 17];
    for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(256);
    new SafeTensorsWriter().addInts("tokens", ids, 2, 17).write(dir.resolve("tokens.safetensors"));
  }

  @AfterAll
  static void printTimes() {
    log.forEach(System.out::println);
  }

  /** Every ./weft line of the README's ```sh blocks, with the output promised after a $ line. */
  static List<Line> readmeLines() throws IOException {
    List<String> all = Files.readAllLines(README);
    List<Line> lines = new ArrayList<>();
    boolean inShell = false;
    for (int i = 0; i < all.size(); i++) {
      String l = all.get(i);
      if (l.startsWith("```")) {
        inShell = !inShell && l.startsWith("```sh");
        continue;
      }
      if (!inShell) continue;
      String t = l.startsWith("$ ") ? l.substring(2) : l;
      if (!t.startsWith("./weft")) continue;
      List<String> expected = new ArrayList<>();
      if (l.startsWith("$ ")) {
        for (int j = i + 1; j < all.size() && !all.get(j).startsWith("$ ") && !all.get(j).startsWith("```"); j++) {
          expected.add(all.get(j));
        }
      }
      lines.add(new Line(i + 1, withoutComment(t).strip(), expected));
    }
    return lines;
  }

  @Test
  void everyCommandNotRunIsStillInTheReadme() throws IOException {
    List<String> texts = readmeLines().stream().map(Line::text).toList();
    for (String prefix : NOT_RUN.keySet()) {
      assertThat(texts).as("README lines starting with '%s' (listed in NOT_RUN)", prefix).anyMatch(t -> t.startsWith(prefix));
    }
  }

  @TestFactory
  Stream<DynamicTest> everyReadmeCommandRuns() throws IOException {
    List<Line> lines = readmeLines();
    assertThat(lines).hasSizeGreaterThan(30);
    return lines.stream().map(line -> DynamicTest.dynamicTest(line.name(), () -> runLine(line)));
  }

  static void runLine(Line line) throws Exception {
    String reason = NOT_RUN.entrySet().stream().filter(e -> line.text().startsWith(e.getKey()))
        .map(Map.Entry::getValue).findFirst().orElse(null);
    if (reason != null) {
      log.add(String.format(Locale.ROOT, "%-7s %s (%s)", "not run", line.name(), reason));
      return;
    }
    for (List<String> command : commands(line.text())) {
      List<String> args = shorten(command.subList(1, command.size()), !line.expected().isEmpty());
      long t0 = System.nanoTime();
      Run r = weft(args);
      log.add(String.format(Locale.ROOT, "%6.1fs %s  [ran: weft %s]", (System.nanoTime() - t0) / 1e9, line.name(),
          String.join(" ", args)));
      String what = line.name() + "\n  ran as: weft " + String.join(" ", args) + "\n  exit " + r.code()
          + "\n  stdout: " + tail(r.out()) + "\n  stderr: " + r.err();
      boolean promisesError = line.expected().stream().anyMatch(e -> e.startsWith("weft: "));
      if (promisesError) {
        if (r.code() != 2) fail("expected bad input (exit 2) as the README shows: " + what);
      } else if (r.code() != 0) {
        fail(what);
      }
      for (String e : line.expected()) {
        if (e.equals("...") || e.isBlank()) continue;
        String want = e.endsWith("...") ? e.substring(0, e.length() - 3).strip() : e;
        String in = e.startsWith("weft: ") ? r.err() : r.out();
        if (!in.lines().anyMatch(l -> l.startsWith(want))) fail("the README promises \"" + want + "\": " + what);
      }
      for (String output : new String[] {r.out(), r.err()}) {
        if (output.contains("WARNING")) fail("a JVM warning in the output: " + what);
      }
    }
  }

  static String tail(String s) {
    return s.length() > 2000 ? "..." + s.substring(s.length() - 2000) : s;
  }

  /** Runs weft in this JVM with stdout and stderr captured. */
  static synchronized Run weft(List<String> args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    StringWriter picocliErr = new StringWriter();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int code = Main.execute(new PrintWriter(picocliErr, true), args.toArray(String[]::new));
      return new Run(code, out.toString(StandardCharsets.UTF_8), picocliErr + err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  // ---- reading shell lines -------------------------------------------------------------------------

  /** The line up to a # that starts a comment (outside quotes). */
  static String withoutComment(String s) {
    boolean quoted = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"') quoted = !quoted;
      if (c == '#' && !quoted && (i == 0 || Character.isWhitespace(s.charAt(i - 1)))) return s.substring(0, i);
    }
    return s;
  }

  /** The commands of a line ("a && b" is two), as words: double quotes group, [optional parts] are included. */
  static List<List<String>> commands(String line) {
    List<List<String>> commands = new ArrayList<>();
    List<String> words = new ArrayList<>();
    StringBuilder w = new StringBuilder();
    boolean quoted = false;
    boolean inWord = false;
    for (int i = 0; i <= line.length(); i++) {
      char c = i < line.length() ? line.charAt(i) : ' ';
      if (c == '"') {
        quoted = !quoted;
        inWord = true;
      } else if (Character.isWhitespace(c) && !quoted) {
        if (inWord) {
          String word = w.toString();
          if (!quoted && word.equals("&&")) {
            commands.add(words);
            words = new ArrayList<>();
          } else {
            words.add(word);
          }
        }
        w.setLength(0);
        inWord = false;
      } else if ((c == '[' || c == ']') && !quoted) {
        // an optional part, as usage lines write it: run with it
      } else {
        w.append(c);
        inWord = true;
      }
    }
    commands.add(words);
    for (List<String> c : commands) assertThat(c.get(0)).as(line).isEqualTo("./weft");
    return commands;
  }

  // ---- shortening ---------------------------------------------------------------------------------

  static final Set<String> PATH_OPTIONS = Set.of("--data", "--save", "--resume", "--checkpoint", "--metrics",
      "--trace", "--out", "--tokenizer", "--device-file", "--run-dir");

  /** The command's arguments shortened as the class comment says, relative paths moved to the temp folder. */
  static List<String> shorten(List<String> given, boolean promisedOutput) {
    List<String> a = new ArrayList<>(given);
    String command = a.isEmpty() ? "" : a.get(0);
    for (int i = 1; i + 1 < a.size(); i++) {
      boolean path = PATH_OPTIONS.contains(a.get(i)) || (command.equals("grads") && a.get(i).equals("--tokens"));
      if (path && !Path.of(a.get(i + 1)).isAbsolute()) a.set(i + 1, dir.resolve(a.get(i + 1)).toString());
    }
    if (command.equals("report")) {
      // weft report DIR ...: the run folders are relative paths too
      for (int i = 1; i < a.size(); i++) {
        boolean optionValue = a.get(i - 1).startsWith("--");
        if (!a.get(i).startsWith("--") && !optionValue && !Path.of(a.get(i)).isAbsolute()) {
          a.set(i, dir.resolve(a.get(i)).toString());
        }
      }
    }
    switch (command) {
      case "train" -> shortenTrain(a, promisedOutput);
      case "sample" -> set(a, "--tokens", "20");
      case "verify" -> {
        if (!a.contains("--data")) a.addAll(List.of("--data", text.toString()));
        set(a, "--context", "32");
      }
      case "launch" -> {
        int dash = a.indexOf("--");
        List<String> inner = new ArrayList<>(a.subList(dash + 1, a.size()));
        shortenTrain(inner, false);
        for (String[] o : new String[][] {{"--layers", "1"}, {"--d-model", "32"}, {"--context", "16"}, {"--batch", "2"}}) {
          set(inner, o[0], o[1]);
        }
        List<String> out = new ArrayList<>(a.subList(0, dash));
        out.addAll(List.of("--jvm-arg", "-Xmx256m", "--jvm-arg", "-XX:TieredStopAtLevel=1", "--"));
        out.addAll(inner);
        return out;
      }
      case "bench" -> {
        Map<String, List<String>> small = new LinkedHashMap<>();
        small.put("step", List.of("--model", "nano", "--batch", "2", "--steps", "2", "--threads", "1"));
        small.put("families", List.of("--models", "nano,llama-micro", "--batch", "1", "--steps", "2", "--rounds", "1",
            "--threads", "1"));
        small.put("comm", List.of("--size-mib", "1", "--iters", "1", "--ranks", "2", "--skip-tcp")); // tcp: CommBenchCommandTest
        small.put("dp", List.of("--model", "nano", "--batch", "4", "--steps", "2"));
        small.put("tp", List.of("--model", "nano", "--batch", "2", "--steps", "2"));
        small.put("pipeline", List.of("--micro-batches", "4", "--unit-ms", "1", "--repeats", "1", "--activation-kib", "16"));
        small.put("cp", List.of("--seq", "64", "--d-model", "32", "--heads", "2", "--iters", "1"));
        small.put("plan", List.of("--only", "1", "--steps", "2"));
        a.addAll(small.getOrDefault(a.get(1), List.of()));
      }
      default -> { }
    }
    return a;
  }

  static void shortenTrain(List<String> a, boolean promisedOutput) {
    a.add("--no-mfu");
    if (!a.contains("--data")) a.addAll(List.of("--data", text.toString()));
    if (promisedOutput) return; // the README shows its output: otherwise as it is
    boolean fromCheckpoint = a.contains("--resume") || a.contains("--checkpoint");
    set(a, "--steps", a.contains("--resume") ? "4" : "2");
    set(a, "--eval-batches", "1");
    if (!fromCheckpoint) {
      set(a, "--context", a.contains("--cp") ? "64" : "32");
      int model = a.indexOf("--model");
      if (model >= 0 && a.get(model + 1).equals("mini") && !a.contains("--d-model")) a.addAll(List.of("--d-model", "96"));
    }
  }

  /** Sets option {@code name} to {@code value}, replacing the value given or adding the option. */
  static void set(List<String> a, String name, String value) {
    int i = a.indexOf(name);
    if (i >= 0) {
      a.set(i + 1, value);
    } else {
      a.add(name);
      a.add(value);
    }
  }

  @Test
  void shellLinesSplitIntoCommandsAndWords() {
    assertThat(commands("./weft train --save runs/micro && ./weft sample --prompt \"public static void main(\""))
        .containsExactly(List.of("./weft", "train", "--save", "runs/micro"),
            List.of("./weft", "sample", "--prompt", "public static void main("));
    assertThat(commands("./weft grads --out g [--dp 2 --zero 3]"))
        .containsExactly(List.of("./weft", "grads", "--out", "g", "--dp", "2", "--zero", "3"));
    assertThat(withoutComment("./weft plan --validate-published    # against \"published\" results")).isEqualTo(
        "./weft plan --validate-published    ");
    assertThat(withoutComment("./weft train --prompt \"#include\"")).isEqualTo("./weft train --prompt \"#include\"");
  }
}
