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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** train and sample with a GPT-2 tokenizer (vocab.json + merges.txt) in the checkpoint folder. */
class BpeCliTest {
  @TempDir static Path dir;
  static Path data;
  static Path bpeModel; // vocab 267 with the test tokenizer beside it
  static Path bareModel; // vocab 267 without a tokenizer

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

  static final String[] TINY = {"--no-mfu", "--threads", "1", "--eval-batches", "1", "--steps", "2", "--batch", "2"};

  static String[] train(String... extra) {
    return CliTest.args("train", TINY, extra);
  }

  @BeforeAll
  static void makeModels() throws IOException {
    data = dir.resolve("data.txt");
    Files.writeString(data, "the cat and the dog, it's the end. café\n".repeat(200));
    bareModel = dir.resolve("bare");
    Run r = run(train("--layers", "1", "--d-model", "16", "--heads", "2", "--context", "16",
        "--vocab", Integer.toString(Gpt2TokenizerFixtures.VOCAB_SIZE), "--data", data.toString(),
        "--save", bareModel.toString()));
    assertThat(r.code()).as(r.err()).isZero();
    bpeModel = dir.resolve("bpe");
    Files.createDirectories(bpeModel);
    for (String f : new String[] {"config.json", "model.safetensors"}) {
      Files.copy(bareModel.resolve(f), bpeModel.resolve(f));
    }
    Gpt2TokenizerFixtures.writeTokenizer(bpeModel);
  }

  @Test
  void fineTuningATokenizedModelEncodesTheDataAndKeepsTheTokenizer() {
    Path saved = dir.resolve("tuned");
    Run r = run(train("--checkpoint", bpeModel.toString(), "--data", data.toString(), "--save", saved.toString()));
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("tokenizing the corpus with GPT-2 byte-level BPE").contains("GPT-2 BPE:");
    assertThat(saved.resolve("vocab.json")).exists();
    assertThat(saved.resolve("merges.txt")).exists();
    Run resumed = run("train", "--resume", saved.toString(), "--data", data.toString(), "--steps", "3", "--batch", "2",
        "--no-mfu", "--threads", "1", "--eval-batches", "1");
    assertThat(resumed.code()).as(resumed.err()).isZero();
    assertThat(resumed.out()).contains("GPT-2 BPE:");
  }

  @Test
  void samplingATokenizedModelDecodesText() {
    Run r = run("sample", "--checkpoint", bpeModel.toString(), "--prompt", "the", "--tokens", "12", "--threads", "1");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).startsWith("the");
  }

  @Test
  void aLargeVocabularyWithoutTokenizerIsRefused() {
    Run t = run(train("--checkpoint", bareModel.toString(), "--data", data.toString()));
    assertThat(t.code()).isEqualTo(2);
    assertThat(t.err()).contains("vocabulary of 267 tokens").contains("no vocab.json and merges.txt")
        .contains("train nonsense");
    Run s = run("sample", "--checkpoint", bareModel.toString(), "--tokens", "3", "--threads", "1");
    assertThat(s.code()).isEqualTo(2);
    assertThat(s.err()).contains("267 tokens").contains("no vocab.json and merges.txt");
  }

  @Test
  void aTokenizerLargerThanTheModelIsRefused() throws IOException {
    Path small = dir.resolve("small");
    Run r = run(train("--layers", "1", "--d-model", "16", "--heads", "2", "--context", "16", "--data", data.toString(),
        "--save", small.toString()));
    assertThat(r.code()).as(r.err()).isZero();
    Gpt2TokenizerFixtures.writeTokenizer(small);
    Run t = run(train("--checkpoint", small.toString(), "--data", data.toString()));
    assertThat(t.code()).isEqualTo(2);
    assertThat(t.err()).contains("ids up to 266").contains("256 tokens");
  }
}
