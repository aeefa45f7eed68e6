package dev.weft.data;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Tiny or binary training data gets one warning line with its statistics; text gets none. */
class DataCheckTest {
  static byte[] random(long seed, int n) {
    byte[] b = new byte[n];
    new SplittableRandom(seed).nextBytes(b);
    return b;
  }

  static String prose(int repeats) {
    return "Der Fuchs läuft über die Straße; 狐狸跑过街道. The fox runs across the street.\n".repeat(repeats);
  }

  @Test
  void textInAnyScriptIsWellFormedUtf8AndBinaryIsNot() {
    ByteStats text = ByteStats.of(prose(10).getBytes(StandardCharsets.UTF_8));
    assertThat(text.validUtf8()).isEqualTo(1.0);
    assertThat(text.control()).isZero();
    assertThat(text.looksLikeText()).isTrue();
    assertThat(text.printableAscii()).isLessThan(1.0);
    ByteStats noise = ByteStats.of(random(1, 100_000));
    assertThat(noise.looksLikeText()).isFalse();
    assertThat(noise.distinct()).isEqualTo(256);
    assertThat(noise.printableAscii()).isBetween(0.35, 0.40);
    assertThat(noise.validUtf8()).isBetween(0.45, 0.60);
  }

  @Test
  void overlongsSurrogatesAndTruncatedSequencesAreNotValid() {
    byte[] bad = {(byte) 0xC0, (byte) 0xAF, (byte) 0xED, (byte) 0xA0, (byte) 0x80, (byte) 0xF4, (byte) 0x90, (byte) 0x80,
        (byte) 0x80, (byte) 0xE2, (byte) 0x82};
    assertThat(ByteStats.of(bad).validUtf8()).isZero();
    byte[] good = "€𝄞é".getBytes(StandardCharsets.UTF_8);
    assertThat(ByteStats.of(good).validUtf8()).isEqualTo(1.0);
  }

  @Test
  void aHundredRandomBytesAreTinyAndNotText() {
    Corpus c = Corpus.ofText("noise.bin", random(2, 100));
    String w = DataCheck.warning("--data noise.bin", c, 16 * 129).orElseThrow();
    assertThat(w).startsWith("warning: --data noise.bin is tiny and does not look like text (101 bytes: ")
        .contains("% printable ASCII").contains("% valid UTF-8").contains("distinct byte values")
        .contains("fewer than one batch takes (2,064)").contains("Training goes on");
    assertThat(w.lines()).hasSize(1);
  }

  @Test
  void largeBinaryGarbageIsNotTextButNotTiny() {
    Corpus c = Corpus.ofText("blob", random(3, 200_000));
    String w = DataCheck.warning("--data blob", c, 16 * 129).orElseThrow();
    assertThat(w).contains("does not look like text").doesNotContain("tiny").contains("200,001 bytes");
  }

  @Test
  void smallTextIsTinyOnlyAndEnoughTextGetsNoWarning() {
    Corpus small = Corpus.ofText("note", prose(3).getBytes(StandardCharsets.UTF_8));
    assertThat(DataCheck.warning("--data note", small, 0).orElseThrow()).contains("is tiny (").doesNotContain("text (");
    Corpus enough = Corpus.ofText("book", prose(200).getBytes(StandardCharsets.UTF_8));
    assertThat(DataCheck.warning("--data book", enough, 16 * 129)).isEmpty();
  }
}
