package dev.weft.data;

import dev.weft.WeftInputException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * The training text as bytes: each byte is a token (vocabulary 256). Holds the whole corpus in one
 * {@code byte[]}: the training part first, then the held-out validation part.
 *
 * <p>Sources ({@link #load}): the default corpus is the running JDK's own {@code lib/src.zip}, its
 * {@code .java} entries read in place; where it is missing, a few MB of Java-like text that Weft
 * generates deterministically. {@code --data} may name a text file, a folder (every regular file below it,
 * hidden ones and binary-looking ones skipped) or a zip (every text entry). Files are taken in order of
 * their name (the path relative to the folder, with '/'), and each is followed by one newline.
 *
 * <p>Validation split, fixed by the data alone (no seed): with at least 38 files, the file with sorted
 * index {@code i} is held out when {@code i % 100 == 37} (about 1% of the files, whole files, spread
 * over the corpus); with fewer files (a single text file, say), the last 1% of the concatenated bytes.
 */
public final class Corpus {
  /** Held-out files: sorted index i with i % HOLDOUT_EVERY == HOLDOUT_AT. */
  public static final int HOLDOUT_EVERY = 100;
  public static final int HOLDOUT_AT = 37;

  private final byte[] bytes;
  private final int trainSize;
  private final String description;

  Corpus(byte[] bytes, int trainSize, String description) {
    this.bytes = bytes;
    this.trainSize = trainSize;
    this.description = description;
  }

  /** Where the default corpus is looked for: the running JDK's {@code lib/src.zip}. */
  public static Path defaultSourceZip() {
    return Path.of(System.getProperty("java.home"), "lib", "src.zip");
  }

  /**
   * Loads {@code data} (a text file, folder or zip), or the default corpus when it is null; reports
   * what was loaded, and how long it took, on {@code log}.
   */
  public static Corpus load(Path dataOrNull, PrintStream log) {
    long t0 = System.nanoTime();
    Corpus c = dataOrNull == null ? loadDefault(defaultSourceZip(), log) : CorpusLoader.load(dataOrNull, log);
    log.printf(Locale.ROOT, "corpus: %s (loaded in %.2f s)%n", c.description, (System.nanoTime() - t0) / 1e9);
    return c;
  }

  /** The JDK sources in {@code srcZip}, or the generated corpus (saying so) when that file is missing. */
  static Corpus loadDefault(Path srcZip, PrintStream log) {
    if (Files.isRegularFile(srcZip)) return CorpusLoader.loadJdkSources(srcZip);
    log.println("The default corpus, the JDK's own sources, is missing (no " + srcZip + "; some JDK "
        + "packages leave it out). Using Weft's generated Java-like corpus instead; give --data PATH to "
        + "train on real text.");
    return CorpusLoader.loadGenerated(srcZip);
  }

  /** A corpus over {@code text} as one file (its last 1% held out); for tests and small tools. */
  public static Corpus ofText(String name, byte[] text) {
    return CorpusLoader.ofSingleText(name, text);
  }

  /** Bytes (tokens) in the training part. */
  public long trainSize() {
    return trainSize;
  }

  /** Bytes (tokens) in the held-out validation part. */
  public long valSize() {
    return bytes.length - trainSize;
  }

  /** One line: what the corpus is, its size, and the held-out part. */
  public String description() {
    return description;
  }

  /** Token {@code i} of the training part, in [0, 256). */
  public int trainToken(long i) {
    return bytes[(int) Objects.checkIndex(i, trainSize)] & 0xFF;
  }

  /** Token {@code i} of the validation part, in [0, 256). */
  public int valToken(long i) {
    return bytes[trainSize + (int) Objects.checkIndex(i, valSize())] & 0xFF;
  }

  /** Copies training tokens [start, start + n) into {@code dst[dstOff ..]}. */
  public void copyTrain(long start, int[] dst, int dstOff, int n) {
    Objects.checkFromIndexSize(start, n, trainSize);
    copy((int) start, dst, dstOff, n);
  }

  /** Copies validation tokens [start, start + n) into {@code dst[dstOff ..]}. */
  public void copyVal(long start, int[] dst, int dstOff, int n) {
    Objects.checkFromIndexSize(start, n, valSize());
    copy(trainSize + (int) start, dst, dstOff, n);
  }

  private void copy(int from, int[] dst, int dstOff, int n) {
    Objects.checkFromIndexSize(dstOff, n, dst.length);
    for (int k = 0; k < n; k++) dst[dstOff + k] = bytes[from + k] & 0xFF;
  }

  @Override
  public String toString() {
    return "Corpus[" + description + "]";
  }

  static WeftInputException tooLarge(Object what, long bytes) {
    return new WeftInputException(what + " holds " + String.format(Locale.ROOT, "%,d", bytes) + " bytes of text; "
        + "Weft keeps the corpus in memory and takes at most 2 GB. Give a smaller folder or file with --data.");
  }
}
