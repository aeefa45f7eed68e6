package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.data.Gpt2TokenizerFixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** weft prepare, and weft train --data FILE.tokens: the same run as on the text, and clear errors. */
class PrepareCommandTest {
  @TempDir static Path dir;
  static Path text;
  static Path tokens;
  static String prepareOut;

  record Run(int code, String out, String err) {}

  static synchronized Run run(String... args) {
    StringWriter sw = new StringWriter();
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      int code = Main.execute(new PrintWriter(sw, true), args);
      return new Run(code, out.toString(StandardCharsets.UTF_8), sw.toString());
    } finally {
      System.setOut(old);
    }
  }

  static String[] train(String data, String... extra) {
    return CliTest.args("train", CliTest.TINY, concat(new String[] {"--data", data, "--steps", "4", "--batch", "2",
        "--eval-every", "2"}, extra));
  }

  static String[] concat(String[] a, String... b) {
    String[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }

  @BeforeAll
  static void prepare() throws IOException {
    SplittableRandom r = new SplittableRandom(11);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 600; i++) sb.append("int x").append(r.nextInt(50)).append(" = ").append(r.nextInt(1000)).append(";\n");
    text = dir.resolve("code.txt");
    Files.writeString(text, sb);
    tokens = dir.resolve("code.tokens");
    Run p = run("prepare", "--data", text.toString(), "--out", tokens.toString());
    assertThat(p.code()).as(p.err()).isZero();
    prepareOut = p.out();
  }

  @Test
  void prepareWritesTheTokenFileAndPrintsItsThroughput() {
    assertThat(tokens).exists();
    assertThat(prepareOut).containsPattern("prepared [\\d,]+ tokens \\([\\d,]+ for training, [\\d,]+ held out\\) of bytes")
        .containsPattern("[\\d.]+ MB/s, [\\d,]+ tokens/s").contains("wrote " + tokens).contains("uint16");
  }

  @Test
  void trainingOnThePreparedFileEqualsTrainingOnTheText() throws IOException {
    Path a = dir.resolve("text.jsonl");
    Path b = dir.resolve("tokens.jsonl");
    Run onText = run(train(text.toString(), "--metrics", a.toString()));
    assertThat(onText.code()).as(onText.err()).isZero();
    Run onTokens = run(train(tokens.toString(), "--metrics", b.toString()));
    assertThat(onTokens.code()).as(onTokens.err()).isZero();
    assertThat(onTokens.out()).contains("corpus: token file " + tokens);
    assertThat(losses(b)).hasSize(4).isEqualTo(losses(a));
  }

  /** The loss and validation loss of every step, as written. */
  static List<String> losses(Path jsonl) throws IOException {
    return Files.readAllLines(jsonl).stream()
        .map(l -> l.replaceAll(".*(\"loss\":[^,]*).*?(\"val_loss\":[^,}]*)?.*", "$1 $2")).toList();
  }

  @Test
  void aTruncatedTokenFileIsBadInput() throws IOException {
    byte[] b = Files.readAllBytes(tokens);
    Path cut = dir.resolve("cut.tokens");
    Files.write(cut, Arrays.copyOf(b, b.length - 3));
    Run r = run(train(cut.toString()));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).startsWith("weft: --data " + cut + " is not a valid Weft token file").contains("truncated")
        .doesNotContain("Exception").doesNotContain("\tat ");
  }

  @Test
  void aVocabularyLargerThanTheModelsIsRefusedWithTheFix() throws IOException {
    Path tokDir = dir.resolve("bpe");
    Files.createDirectories(tokDir);
    Gpt2TokenizerFixtures.writeTokenizer(tokDir);
    Path bpe = dir.resolve("bpe.tokens");
    Run p = run("prepare", "--data", text.toString(), "--tokenizer", tokDir.toString(), "--out", bpe.toString());
    assertThat(p.code()).as(p.err()).isZero();
    assertThat(p.out()).contains("of gpt2-bpe vocab=" + Gpt2TokenizerFixtures.VOCAB_SIZE);
    Run r = run(train(bpe.toString()));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("vocabulary of " + Gpt2TokenizerFixtures.VOCAB_SIZE)
        .contains("--vocab " + Gpt2TokenizerFixtures.VOCAB_SIZE);
    Run ok = run(train(bpe.toString(), "--vocab", Integer.toString(Gpt2TokenizerFixtures.VOCAB_SIZE)));
    assertThat(ok.code()).as(ok.err()).isZero();
  }

  @Test
  void aFolderWithoutTokenizerFilesIsBadInput() {
    Run r = run("prepare", "--data", text.toString(), "--tokenizer", dir.toString(), "--out",
        dir.resolve("never.tokens").toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("has no vocab.json and merges.txt");
    assertThat(dir.resolve("never.tokens")).doesNotExist();
  }

  @Test
  void tinyOrBinaryDataTrainsWithOneWarning() throws IOException {
    byte[] noise = new byte[100];
    new SplittableRandom(12).nextBytes(noise);
    Path bin = dir.resolve("noise.bin");
    Files.write(bin, noise);
    Run r = run(train(bin.toString()));
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out().lines().filter(l -> l.startsWith("warning: --data " + bin)))
        .singleElement().asString().contains("is tiny and does not look like text (101 bytes:")
        .contains("valid UTF-8").contains("distinct byte values");
  }
}
