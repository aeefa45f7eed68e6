package dev.weft.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weft.WeftInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CorpusTest {
  @TempDir Path dir;
  private final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
  private final PrintStream log = new PrintStream(logBytes, true, StandardCharsets.UTF_8);

  private static String train(Corpus c) {
    int[] t = new int[(int) c.trainSize()];
    c.copyTrain(0, t, 0, t.length);
    return text(t);
  }

  private static String val(Corpus c) {
    int[] t = new int[(int) c.valSize()];
    c.copyVal(0, t, 0, t.length);
    return text(t);
  }

  private static String text(int[] tokens) {
    byte[] b = new byte[tokens.length];
    for (int i = 0; i < b.length; i++) b[i] = (byte) tokens[i];
    return new String(b, StandardCharsets.ISO_8859_1);
  }

  @Test
  void aTextFileIsOneDocumentWithItsLastPercentHeldOut() throws IOException {
    Path f = dir.resolve("input.txt");
    String body = "abcdefghij".repeat(100); // 1000 bytes + newline
    Files.writeString(f, body);
    Corpus c = Corpus.load(f, log);
    assertThat(c.trainSize() + c.valSize()).isEqualTo(1001);
    assertThat(c.valSize()).isEqualTo(10);
    assertThat(train(c) + val(c)).isEqualTo(body + "\n");
    assertThat(c.description()).contains("input.txt").contains("last 1.0% held out");
    assertThat(logBytes.toString(StandardCharsets.UTF_8)).contains("corpus: text file");
  }

  @Test
  void aFolderIsItsTextFilesInNameOrderWithBinaryAndHiddenFilesSkipped() throws IOException {
    Files.createDirectories(dir.resolve("b/sub"));
    Files.writeString(dir.resolve("b/sub/z.txt"), "third");
    Files.writeString(dir.resolve("b/a.txt"), "second");
    Files.writeString(dir.resolve("a.txt"), "first");
    Files.write(dir.resolve("image.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2});
    Files.createDirectories(dir.resolve(".git"));
    Files.writeString(dir.resolve(".git/HEAD"), "ref: refs/heads/main");
    Corpus c = Corpus.load(dir, log);
    assertThat(train(c) + val(c)).isEqualTo("first\nsecond\nthird\n");
    assertThat(c.description()).contains("3 files").contains("1 binary-looking file").contains("1 hidden file");
    assertThat(logBytes.toString(StandardCharsets.UTF_8)).contains("skipped 1 binary-looking file");
  }

  @Test
  void withManyFilesEveryHundredthFileFromIndex37IsHeldOutWhole() throws IOException {
    StringBuilder expectTrain = new StringBuilder();
    StringBuilder expectVal = new StringBuilder();
    for (int i = 0; i < 250; i++) {
      String name = String.format("f%04d.txt", i);
      String body = "file " + i + " " + "x".repeat(i % 7);
      Files.writeString(dir.resolve(name), body);
      (i % 100 == 37 ? expectVal : expectTrain).append(body).append('\n');
    }
    Corpus c = Corpus.load(dir, log);
    assertThat(train(c)).isEqualTo(expectTrain.toString());
    assertThat(val(c)).isEqualTo(expectVal.toString()).startsWith("file 37 ").contains("file 137 ")
        .contains("file 237 ");
    assertThat(c.description()).contains("3 whole files");
  }

  @Test
  void aZipIsItsTextEntriesInNameOrder() throws IOException {
    Path z = dir.resolve("data.zip");
    try (ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(z))) {
      put(out, "b.txt", "bee".getBytes(StandardCharsets.UTF_8));
      put(out, "a/x.java", "class X {}".getBytes(StandardCharsets.UTF_8));
      put(out, "blob.bin", new byte[] {1, 0, 2});
      out.putNextEntry(new ZipEntry("empty-dir/"));
      out.closeEntry();
    }
    Corpus c = Corpus.load(z, log);
    assertThat(train(c) + val(c)).isEqualTo("class X {}\nbee\n");
    assertThat(c.description()).contains("2 text entries").contains("1 binary skipped");
  }

  private static void put(ZipOutputStream out, String name, byte[] data) throws IOException {
    out.putNextEntry(new ZipEntry(name));
    out.write(data);
    out.closeEntry();
  }

  @Test
  void missingEmptyOrCorruptDataIsAWeftInputExceptionNamingThePath() throws IOException {
    Path missing = dir.resolve("nope.txt");
    assertThatThrownBy(() -> Corpus.load(missing, log)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
    Path empty = dir.resolve("empty.txt");
    Files.createFile(empty);
    assertThatThrownBy(() -> Corpus.load(empty, log)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining(empty.toString()).hasMessageContaining("is empty");
    Path emptyDir = Files.createDirectories(dir.resolve("emptydir"));
    assertThatThrownBy(() -> Corpus.load(emptyDir, log)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining(emptyDir.toString()).hasMessageContaining("holds no text");
    Path badZip = dir.resolve("broken.zip");
    Files.writeString(badZip, "PK this is not really a zip");
    assertThatThrownBy(() -> Corpus.load(badZip, log)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining(badZip.toString()).hasMessageContaining("not a readable zip");
  }

  @Test
  void theDefaultCorpusIsTheJdkSourcesAndLoadsInSeconds() {
    assumeTrue(Files.isRegularFile(Corpus.defaultSourceZip()), "this JDK has no lib/src.zip");
    long t0 = System.nanoTime();
    Corpus c = Corpus.load(null, log);
    double seconds = (System.nanoTime() - t0) / 1e9;
    long total = c.trainSize() + c.valSize();
    assertThat(total).isBetween(100_000_000L, 400_000_000L);
    assertThat((double) c.valSize() / total).isBetween(0.002, 0.03);
    assertThat(c.description()).startsWith("JDK " + Runtime.version().feature() + " sources");
    assertThat(seconds).as("load seconds").isLessThan(10); // ~0.5 s measured; generous for a busy machine
    System.out.printf("default corpus: %s, loaded in %.2f s%n", c.description(), seconds);
  }

  @Test
  void withoutSrcZipTheGeneratedCorpusIsUsedAndSaysSo() {
    Path missing = dir.resolve("jdk/lib/src.zip");
    Corpus a = Corpus.loadDefault(missing, log);
    Corpus b = Corpus.loadDefault(missing, new PrintStream(OutputStream.nullOutputStream()));
    assertThat(logBytes.toString(StandardCharsets.UTF_8)).contains("missing").contains(missing.toString())
        .contains("generated");
    assertThat(a.description()).startsWith("generated");
    long total = a.trainSize() + a.valSize();
    assertThat(total).isBetween(2_000_000L, 8_000_000L);
    assertThat(a.valSize()).isPositive();
    assertThat(train(a)).isEqualTo(train(b)).contains("public class ").contains("return ");
    assertThat(val(a)).isEqualTo(val(b));
  }
}
