package dev.weft.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token file of 'weft prepare': what goes in comes out, split included, and damage is named. */
class TokenFileTest {
  static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

  static int[] all(Corpus c) {
    int[] t = new int[(int) c.size()];
    for (int i = 0; i < t.length; i++) t[i] = c.token(i);
    return t;
  }

  /** Seeded lines of random words. */
  static String text(long seed, int lines) {
    SplittableRandom r = new SplittableRandom(seed);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < lines; i++) {
      int words = 1 + r.nextInt(9);
      for (int w = 0; w < words; w++) sb.append(w == 0 ? "" : " ").append("the cat and é dog aa in".split(" ")[r.nextInt(7)]);
      sb.append('\n');
    }
    return sb.toString();
  }

  @Test
  void byteTokensRoundTripWithTheirSplit(@TempDir Path dir) {
    Corpus text = Corpus.ofText("seeded", text(1, 400).getBytes(StandardCharsets.UTF_8));
    Path f = dir.resolve("t.tokens");
    long size = TokenFile.write(f, text, "seeded text");
    assertThat(Files.exists(f)).isTrue();
    assertThat(size).isEqualTo(f.toFile().length());
    Corpus back = TokenFile.open(f);
    assertThat(back.isPrepared()).isTrue();
    assertThat(back.vocabSize()).isEqualTo(256);
    assertThat(back.tokenizer()).isEqualTo("bytes");
    assertThat(back.trainSize()).isEqualTo(text.trainSize());
    assertThat(back.valSize()).isEqualTo(text.valSize());
    assertThat(all(back)).isEqualTo(all(text));
    assertThat(back.description()).contains("uint16").contains("prepared from seeded text");
  }

  @Test
  void bpeTokensRoundTripAndNameTheirTokenizer(@TempDir Path dir) throws Exception {
    Gpt2TokenizerFixtures.writeTokenizer(dir);
    Gpt2Tokenizer tok = Gpt2Tokenizer.load(dir);
    Corpus text = Corpus.ofText("seeded", text(2, 300).getBytes(StandardCharsets.UTF_8), tok);
    Path f = dir.resolve("bpe.tokens");
    TokenFile.write(f, text, "seeded");
    Corpus back = TokenFile.open(f);
    assertThat(back.vocabSize()).isEqualTo(Gpt2TokenizerFixtures.VOCAB_SIZE);
    assertThat(back.tokenizer()).startsWith("gpt2-bpe vocab=" + Gpt2TokenizerFixtures.VOCAB_SIZE).contains("sha256=")
        .isEqualTo(TokenFile.identity(Gpt2Tokenizer.load(dir)));
    assertThat(all(back)).isEqualTo(all(text));
    assertThat(back.trainSize()).isEqualTo(text.trainSize());
  }

  @Test
  void aVocabularyAbove65536IsStoredAsInt32(@TempDir Path dir) {
    SplittableRandom r = new SplittableRandom(3);
    int[] tokens = r.ints(5000, 0, 100_000).toArray();
    Corpus big = new Corpus(tokens, 4900, 100_000, "test-100k", null, "random ids");
    Path f = dir.resolve("big.tokens");
    assertThat(TokenFile.write(f, big, "random ids")).isEqualTo(128 + 5000L * 4); // a 67-byte header, padded
    Corpus back = TokenFile.open(f);
    assertThat(all(back)).isEqualTo(tokens);
    assertThat(back.trainSize()).isEqualTo(4900);
    assertThat(back.description()).contains("int32");
  }

  @Test
  void theHeldOutFilesAreTheLoadersEveryHundredth(@TempDir Path dir) throws Exception {
    Path folder = dir.resolve("corpus");
    Files.createDirectories(folder);
    for (int i = 0; i < 140; i++) {
      Files.writeString(folder.resolve(String.format("f%03d.txt", i)), "file " + i + "\n" + text(10 + i, 3));
    }
    Corpus text = Corpus.load(folder, QUIET);
    Path f = dir.resolve("folder.tokens");
    TokenFile.write(f, text, text.description());
    Corpus back = TokenFile.open(f);
    assertThat(back.trainSize()).isEqualTo(text.trainSize());
    // files 37 and 137 (sorted) are held out: the validation part is their texts, each with a newline
    StringBuilder held = new StringBuilder();
    for (String name : new String[] {"f037.txt", "f137.txt"}) held.append(Files.readString(folder.resolve(name))).append('\n');
    byte[] want = held.toString().getBytes(StandardCharsets.UTF_8);
    int[] val = new int[(int) back.valSize()];
    back.copyVal(0, val, 0, val.length);
    assertThat(val).isEqualTo(java.util.stream.IntStream.range(0, want.length).map(i -> want[i] & 0xFF).toArray());
  }

  @Test
  void aTruncatedFileIsRefusedNamingTheProblem(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("t.tokens");
    TokenFile.write(f, Corpus.ofText("x", text(4, 100).getBytes(StandardCharsets.UTF_8)), "x");
    byte[] b = Files.readAllBytes(f);
    Path cut = dir.resolve("cut.tokens");
    Files.write(cut, Arrays.copyOf(b, b.length - 7));
    assertThatThrownBy(() -> TokenFile.open(cut)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("truncated").hasMessageContaining("weft prepare");
    Path header = dir.resolve("header.tokens");
    Files.write(header, Arrays.copyOf(b, 20));
    assertThatThrownBy(() -> TokenFile.open(header)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("shorter than the header");
  }

  @Test
  void aDamagedHeaderOrTokenIsRefused(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("t.tokens");
    TokenFile.write(f, Corpus.ofText("x", text(5, 100).getBytes(StandardCharsets.UTF_8)), "x");
    byte[] good = Files.readAllBytes(f);

    byte[] version = good.clone();
    ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 9);
    Path v = dir.resolve("v.tokens");
    Files.write(v, version);
    assertThatThrownBy(() -> TokenFile.open(v)).hasMessageContaining("version 9");

    byte[] token = good.clone();
    int header = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getInt(12);
    ByteBuffer.wrap(token).order(ByteOrder.LITTLE_ENDIAN).putShort(header + 2 * 10, (short) 300);
    Path t = dir.resolve("tok.tokens");
    Files.write(t, token);
    assertThatThrownBy(() -> TokenFile.open(t)).hasMessageContaining("token 10 is 300, outside its vocabulary of 256");

    byte[] split = good.clone();
    ByteBuffer.wrap(split).order(ByteOrder.LITTLE_ENDIAN).putLong(32, Long.MAX_VALUE);
    Path s = dir.resolve("split.tokens");
    Files.write(s, split);
    assertThatThrownBy(() -> TokenFile.open(s)).hasMessageContaining("are for training");
  }

  @Test
  void aTokenFileIsRecognisedByItsFirstBytesNotItsName(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("data.bin");
    TokenFile.write(f, Corpus.ofText("x", text(6, 50).getBytes(StandardCharsets.UTF_8)), "x");
    assertThat(Corpus.load(f, QUIET).isPrepared()).isTrue();
    Path plain = dir.resolve("plain.tokens");
    Files.writeString(plain, text(6, 50));
    assertThat(Corpus.load(plain, QUIET).isPrepared()).isFalse();
  }

  @Test
  void aTokenFileOfAnotherTokenizerIsRefusedWithTheFix(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("bytes.tokens");
    TokenFile.write(f, Corpus.ofText("x", text(7, 50).getBytes(StandardCharsets.UTF_8)), "x");
    Gpt2TokenizerFixtures.writeTokenizer(dir);
    assertThatThrownBy(() -> Corpus.load(f, QUIET, Gpt2Tokenizer.load(dir)))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("tokenizer 'bytes'")
        .hasMessageContaining("--tokenizer " + dir);
  }
}
