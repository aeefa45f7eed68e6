package dev.weft.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Gpt2TokenizerTest {
  static final String[] MERGES = Gpt2TokenizerFixtures.MERGES;

  @TempDir Path dir;
  Gpt2Tokenizer tok;

  @BeforeEach
  void setUp() throws IOException {
    Gpt2TokenizerFixtures.writeTokenizer(dir, MERGES);
    tok = Gpt2Tokenizer.load(dir);
  }

  @Test
  void theByteAlphabetIsGpt2s() {
    assertThat(Gpt2Tokenizer.BYTE_TO_CHAR[' ']).isEqualTo('Ġ');
    assertThat(Gpt2Tokenizer.BYTE_TO_CHAR['\n']).isEqualTo('Ċ');
    assertThat(Gpt2Tokenizer.BYTE_TO_CHAR['A']).isEqualTo('A');
    assertThat(Gpt2Tokenizer.BYTE_TO_CHAR[0xAD]).isEqualTo('\u0143');
    assertThat(Gpt2Tokenizer.BYTE_TO_CHAR[0xE9]).isEqualTo('é');
    assertThat(tok.vocabSize()).isEqualTo(256 + MERGES.length + 1);
    assertThat(tok.mergeCount()).isEqualTo(MERGES.length);
    assertThat(tok.tokenId("<|endoftext|>")).isEqualTo(266);
  }

  @Test
  void exactIdsOnHandCheckedCases() {
    // single bytes have GPT-2's ids: t 83, h 71, e 68, H 39, l 75, o 78, Ġ 220, Ċ 198, ! 0
    assertThat(tok.encode("the")).containsExactly(83, 257); // t + he
    assertThat(tok.encode(" the")).containsExactly(258); // Ġt + he -> Ġthe
    assertThat(tok.encode("the the")).containsExactly(83, 257, 258);
    assertThat(tok.encode("Hello!")).containsExactly(39, 68, 75, 75, 78, 0);
    assertThat(tok.encode("\n")).containsExactly(198);
    assertThat(tok.encode(" and")).containsExactly(263); // Ġa, Ġan, Ġand
    assertThat(tok.encode("in")).containsExactly(260);
    // all occurrences of the best pair merge left to right: aaa -> aa a, aaaa -> aa aa
    assertThat(tok.encode("aaa")).containsExactly(259, 64);
    assertThat(tok.encode("aaaa")).containsExactly(259, 259);
    // contractions are their own pre-tokens: it + 's
    assertThat(tok.encode("it's")).containsExactly(72, 83, 264);
    // é is the bytes C3 A9, written Ã ©, merged
    assertThat(tok.encode("é")).containsExactly(265);
    assertThat(tok.encode("")).isEmpty();
    assertThat(tok.decode(new int[] {266})).isEqualTo("<|endoftext|>");
  }

  @Test
  void pretokenizationFollowsGpt2sPattern() {
    assertThat(Gpt2Tokenizer.pretokenize("Hello world  123 !!"))
        .containsExactly("Hello", " world", " ", " 123", " !!");
    assertThat(Gpt2Tokenizer.pretokenize("don't I'm we'll they've"))
        .containsExactly("don", "'t", " I", "'m", " we", "'ll", " they", "'ve");
    assertThat(Gpt2Tokenizer.pretokenize("a\n\nb")).containsExactly("a", "\n", "\n", "b");
    assertThat(Gpt2Tokenizer.pretokenize("x  ")).containsExactly("x", "  ");
    assertThat(Gpt2Tokenizer.pretokenize("if (a<=b) {\n    return;\n}"))
        .containsExactly("if", " (", "a", "<=", "b", ")", " {", "\n   ", " return", ";", "\n", "}");
    assertThat(Gpt2Tokenizer.pretokenize("café 日本語 😀😀 x²")).containsExactly("café", " 日本語", " 😀😀", " x", "²");
    assertThat(Gpt2Tokenizer.pretokenize("a\u00a0b")).containsExactly("a", "\u00a0", "b"); // NBSP is white space
  }

  static final String[] PIECES = {"the", " the", "The", " and", "aaa", "in", "it's", "don't", "we'll", "I'm", "'d",
      " café", "naïve", "Ünïcödé", " 日本語", "😀", " 🎉🎉", "👩‍💻", " 42", "3.14159", "2024", "\n", "\n\n", "   ", "\t",
      " \n ", "  \t\n", "!!", " ?", "{", "});", "x²", "ñ", "Ω", "\r\n", "'", "''", " 's", "<|endoftext|>"};

  static String randomText(SplittableRandom rng, int pieces) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < pieces; i++) {
      if (rng.nextInt(4) == 0) {
        int len = 1 + rng.nextInt(8);
        for (int k = 0; k < len; k++) sb.append((char) (' ' + rng.nextInt(95))); // random printable ASCII
      } else {
        sb.append(PIECES[rng.nextInt(PIECES.length)]);
      }
    }
    return sb.toString();
  }

  @Test
  void encodeThenDecodeGivesTheTextBack() {
    SplittableRandom rng = new SplittableRandom(20240601);
    for (int trial = 0; trial < 300; trial++) {
      String text = randomText(rng, 1 + rng.nextInt(60));
      int[] ids = tok.encode(text);
      for (int id : ids) assertThat(id).isBetween(0, tok.vocabSize() - 1);
      assertThat(tok.decode(ids)).as("trial %d: %s", trial, text).isEqualTo(text);
      // the pre-tokens cover the text
      assertThat(String.join("", Gpt2Tokenizer.pretokenize(text))).isEqualTo(text);
    }
  }

  @Test
  void chunkedUtf8EncodingEqualsEncodingTheWholeString() {
    SplittableRandom rng = new SplittableRandom(7);
    StringBuilder sb = new StringBuilder();
    while (sb.length() < 60_000) {
      sb.append(randomText(rng, 20)).append(rng.nextBoolean() ? "\n" : "\n\n").append(rng.nextBoolean() ? "x" : " y");
    }
    String text = sb.toString();
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    int[] whole = tok.encode(text);
    for (int chunk : new int[] {1, 64, 4096, 1 << 20}) {
      assertThat(tok.encodeUtf8(utf8, 0, utf8.length, chunk)).as("chunk %d", chunk).containsExactly(whole);
    }
    assertThat(tok.decode(whole)).isEqualTo(text);
  }

  @Test
  void streamingDecodeHoldsBackUnfinishedCharacters() {
    Gpt2Tokenizer.StreamDecoder d = tok.streamDecoder();
    // "é" without its merge would be two byte tokens: Ã (0xC3) then © (0xA9)
    int c3 = tok.tokenId("Ã");
    int a9 = tok.tokenId("©");
    assertThat(d.push(c3)).isEmpty();
    assertThat(d.push(a9)).isEqualTo("é");
    // 😀 is F0 9F 98 80: nothing until the fourth byte
    byte[] smile = "😀".getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < 3; i++) assertThat(d.push(byteToken(smile[i]))).isEmpty();
    assertThat(d.push(byteToken(smile[3]))).isEqualTo("😀");
    // an invalid byte comes out at once; an unfinished character at the end comes out on flush
    assertThat(d.push(byteToken((byte) 0xFF))).isEqualTo("\uFFFD");
    assertThat(d.push(byteToken((byte) 0xE6))).isEmpty();
    assertThat(d.flush()).isEqualTo("\uFFFD");

    SplittableRandom rng = new SplittableRandom(3);
    for (int trial = 0; trial < 50; trial++) {
      String text = randomText(rng, 30);
      StringBuilder out = new StringBuilder();
      Gpt2Tokenizer.StreamDecoder s = tok.streamDecoder();
      for (byte b : text.getBytes(StandardCharsets.UTF_8)) out.append(s.push(byteToken(b))); // worst case: bytes
      out.append(s.flush());
      assertThat(out.toString()).isEqualTo(text);
    }
  }

  private int byteToken(byte b) {
    return tok.tokenId(String.valueOf(Gpt2Tokenizer.BYTE_TO_CHAR[b & 0xFF]));
  }

  // ---- malformed files ------------------------------------------------------------------------------

  private String error(Runnable r) {
    try {
      r.run();
    } catch (WeftInputException e) {
      return e.getMessage();
    }
    throw new AssertionError("no WeftInputException");
  }

  @Test
  void aFolderWithoutTokenizerFilesHasNone() throws IOException {
    Path empty = Files.createDirectories(dir.resolve("empty"));
    assertThat(Gpt2Tokenizer.find(empty)).isNull();
    Path weights = Files.writeString(empty.resolve("model.safetensors"), "x");
    assertThat(Gpt2Tokenizer.find(weights)).isNull();
    assertThat(Gpt2Tokenizer.find(dir).vocabSize()).isEqualTo(tok.vocabSize());
  }

  @Test
  void missingFilesAreNamed() throws IOException {
    Files.delete(dir.resolve("merges.txt"));
    assertThat(error(() -> Gpt2Tokenizer.find(dir))).contains("has vocab.json but no merges.txt")
        .contains("Hugging Face");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("merges.txt does not exist");
  }

  @Test
  void malformedVocabularyIsReportedWithItsLine() throws IOException {
    Path v = dir.resolve("vocab.json");
    Files.writeString(v, "{\"a\": 0,\n \"b\": 1,\n \"c\": }");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("vocab.json line 3").contains("not valid JSON");
    Files.writeString(v, "[1, 2]");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("vocab.json line 1").contains("not a JSON object");
    Files.writeString(v, "{\"a\": 0,\n \"b\": \"one\"}");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("vocab.json line 2").contains("\"b\" the id one");
    Files.writeString(v, "{\"a\": 0, \"b\": -4}");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("not a non-negative integer");
    Files.writeString(v, "{\"!\": 0}");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("vocab.json has no token for the byte 0x00");
    Files.writeString(v, "{\"a\": 0, \"b\": 0}");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("gives id 0 to two tokens");
  }

  @Test
  void malformedMergesAreReportedWithTheirLine() throws IOException {
    Path m = dir.resolve("merges.txt");
    Files.writeString(m, "#version: 0.2\nĠ t\nh e x\n");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("merges.txt line 3").contains("\"h e x\", not a merge");
    Files.writeString(m, "#version: 0.2\nĠ t\nhe\n");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("merges.txt line 3");
    Files.writeString(m, "#version: 0.2\nĠ t\n\nq z\n");
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("merges.txt line 4").contains("\"qz\"")
        .contains("does not have");
    Files.write(m, new byte[] {'#', 'v', 'e', 'r', 's', 'i', 'o', 'n', '\n', (byte) 0xFF, ' ', 'a', '\n'});
    assertThat(error(() -> Gpt2Tokenizer.load(dir))).contains("merges.txt line 2").contains("not valid UTF-8");
    // without a #version line and with CRLF line ends, a merges file still loads
    Files.writeString(m, "Ġ t\r\nh e\r\n");
    assertThat(Gpt2Tokenizer.load(dir).encode("the")).containsExactly(83, 257);
  }

  // ---- tokenized corpora ------------------------------------------------------------------------------

  @Test
  void aTokenizedFolderHoldsOutTheTokensOfWholeFiles() throws IOException {
    Path data = Files.createDirectories(dir.resolve("data"));
    SplittableRandom rng = new SplittableRandom(11);
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 120; i++) {
      String t = randomText(rng, 40);
      texts.add(t);
      Files.writeString(data.resolve(String.format("f%03d.txt", i)), t);
    }
    ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    Corpus c = Corpus.load(data, new PrintStream(logBytes, true, StandardCharsets.UTF_8), tok);
    assertThat(c.isTokenized()).isTrue();
    StringBuilder train = new StringBuilder();
    StringBuilder val = new StringBuilder();
    for (int i = 0; i < texts.size(); i++) (i % 100 == 37 ? val : train).append(texts.get(i)).append('\n');
    assertThat(ids(c, true)).containsExactly(tok.encode(train.toString()));
    assertThat(ids(c, false)).containsExactly(tok.encode(val.toString()));
    assertThat(c.description()).contains("GPT-2 BPE").contains("tokens").contains("1 whole file ");
    assertThat(logBytes.toString(StandardCharsets.UTF_8)).contains("tokenizing the corpus with GPT-2 byte-level BPE");

    BatchSampler s = new BatchSampler(c, 5);
    int[] batch = s.trainBatch(3, 4, 16);
    assertThat(batch).hasSize(4 * 17);
    for (int id : batch) assertThat(id).isBetween(0, tok.vocabSize() - 1);
    long start = s.trainOffset(3, 1, 16);
    for (int k = 0; k < 17; k++) assertThat(batch[17 + k]).isEqualTo(c.trainToken(start + k));
    assertThat(s.trainBatch(3, 4, 16)).containsExactly(batch);
    int[] v = s.valBatch(0, 2, 8);
    for (int id : v) assertThat(id).isBetween(0, tok.vocabSize() - 1);
  }

  @Test
  void aTokenizedTextKeepsEveryCharacterAcrossTheOnePercentSplit() {
    String text = "é".repeat(1000) + " the end"; // the byte split at 1% falls inside an é
    Corpus c = Corpus.ofText("accents", text.getBytes(StandardCharsets.UTF_8), tok);
    assertThat(tok.decode(ids(c, true)) + tok.decode(ids(c, false))).isEqualTo(text + "\n");
    assertThat(tok.decode(ids(c, false))).doesNotContain("\uFFFD");
    assertThat(c.valSize()).isGreaterThan(0);
    assertThat(c.valToken(0)).isEqualTo(ids(c, false)[0]);
    assertThat(Corpus.ofText("bytes", "abc".getBytes(StandardCharsets.UTF_8), null).isTokenized()).isFalse();
  }

  private static int[] ids(Corpus c, boolean train) {
    int[] t = new int[(int) (train ? c.trainSize() : c.valSize())];
    if (train) {
      c.copyTrain(0, t, 0, t.length);
    } else {
      c.copyVal(0, t, 0, t.length);
    }
    return t;
  }
}
