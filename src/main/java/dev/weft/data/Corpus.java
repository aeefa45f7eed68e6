package dev.weft.data;

import dev.weft.WeftInputException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * The training text as tokens: the training part first, then the held-out validation part. Tokens are
 * bytes (each byte one token, vocabulary 256; one {@code byte[]}), GPT-2 BPE ids when a {@link Gpt2Tokenizer}
 * is given (one {@code int[]}), or the tokens of a file written by {@code weft prepare} ({@link TokenFile}),
 * memory-mapped and read in place.
 *
 * <p>Sources ({@link #load}): the default corpus is the running JDK's own {@code lib/src.zip}, its
 * {@code .java} entries read in place; where it is missing, a few MB of Java-like text that Weft
 * generates deterministically. {@code --data} may name a text file, a folder (every regular file below it,
 * hidden ones and binary-looking ones skipped), a zip (every text entry), or a token file that
 * {@code weft prepare} wrote (recognised by its first bytes). Files are taken in order of
 * their name (the path relative to the folder, with '/'), and each is followed by one newline.
 *
 * <p>Validation split, fixed by the data alone (no seed): with at least 38 files, the file with sorted
 * index {@code i} is held out when {@code i % 100 == 37} (about 1% of the files, whole files, spread
 * over the corpus); with fewer files (a single text file, say), the last 1% of the concatenated bytes.
 *
 * <p>Tokenized corpora: the bytes are assembled as above, then the training part and the validation part
 * are each encoded with the tokenizer (so the tokens of held-out files are the validation part; a 1% byte
 * split inside a UTF-8 character moves to the character's end), in 1 MB chunks on a few threads. Measured
 * on a shared 2-core machine with a 50k-merge vocabulary: the whole default corpus (213 MB of JDK 25 sources,
 * 84 M tokens) in 12 to 18 s (12-18 MB/s), so it is encoded whole, like {@code --data}; the description
 * gives the token counts and the speed of each run.
 */
public final class Corpus {
  /** Held-out files: sorted index i with i % HOLDOUT_EVERY == HOLDOUT_AT. */
  public static final int HOLDOUT_EVERY = 100;
  public static final int HOLDOUT_AT = 37;

  private final byte[] bytes; // byte tokens, or null
  private final int[] tokens; // BPE tokens, or null
  private final TokenFile.Mapped mapped; // a prepared token file, or null
  private final long size;
  private final long trainSize;
  private final int vocab;
  private final String tokenizer;
  private final ByteStats stats;
  private final String description;

  Corpus(byte[] bytes, int trainSize, String description) {
    this(bytes, null, null, bytes.length, trainSize, 256, TokenFile.BYTES, null, description);
  }

  Corpus(int[] tokens, int trainSize, int vocab, String tokenizer, ByteStats stats, String description) {
    this(null, tokens, null, tokens.length, trainSize, vocab, tokenizer, stats, description);
  }

  Corpus(TokenFile.Mapped mapped, String description) {
    this(null, null, mapped, mapped.count(), mapped.trainCount(), mapped.vocab(), mapped.tokenizer(), null, description);
  }

  private Corpus(byte[] bytes, int[] tokens, TokenFile.Mapped mapped, long size, long trainSize, int vocab,
                 String tokenizer, ByteStats stats, String description) {
    this.bytes = bytes;
    this.tokens = tokens;
    this.mapped = mapped;
    this.size = size;
    this.trainSize = trainSize;
    this.vocab = vocab;
    this.tokenizer = tokenizer;
    this.stats = stats;
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
    return load(dataOrNull, log, null);
  }

  /**
   * Loads {@code data} (or the default corpus when it is null) and, given a tokenizer, encodes it with it
   * (saying so in the description); null keeps byte tokens. A prepared token file is read as it is; given a
   * tokenizer, the file must have been prepared with it.
   */
  public static Corpus load(Path dataOrNull, PrintStream log, Gpt2Tokenizer tokenizerOrNull) {
    long t0 = System.nanoTime();
    Corpus c = dataOrNull == null ? loadDefault(defaultSourceZip(), log) : CorpusLoader.load(dataOrNull, log);
    if (c.mapped != null) {
      // A prepared file's tokens are used as they are; with a tokenizer (the model's), they must be its.
      String want = TokenFile.identity(tokenizerOrNull);
      if (tokenizerOrNull != null && !want.equals(c.tokenizer)) {
        throw new WeftInputException("--data " + dataOrNull + " holds tokens of the tokenizer '" + c.tokenizer
            + "', but this run's model reads '" + want + "' (from " + tokenizerOrNull.folder() + "). Prepare the "
            + "data again with the model's tokenizer: 'weft prepare --data TEXT --out FILE.tokens --tokenizer "
            + tokenizerOrNull.folder() + "'.");
      }
    } else if (tokenizerOrNull != null) {
      log.println("tokenizing the corpus with " + tokenizerOrNull.describe() + " ...");
      c = c.tokenize(tokenizerOrNull);
    }
    log.printf(Locale.ROOT, "corpus: %s (loaded in %.2f s)%n", c.description, (System.nanoTime() - t0) / 1e9);
    return c;
  }

  /**
   * This byte corpus encoded with {@code tok}: the training part and the validation part separately (a
   * split inside a UTF-8 character moves to its end); the description gains the token counts and speed.
   */
  public Corpus tokenize(Gpt2Tokenizer tok) {
    if (bytes == null) throw new IllegalStateException("already tokenized: " + description);
    long t0 = System.nanoTime();
    int cut = (int) trainSize;
    while (cut < bytes.length && (bytes[cut] & 0xC0) == 0x80) cut++;
    int[] train = tok.encodeUtf8(bytes, 0, cut);
    int[] val = tok.encodeUtf8(bytes, cut, bytes.length - cut);
    double secs = (System.nanoTime() - t0) / 1e9;
    int[] all = java.util.Arrays.copyOf(train, train.length + val.length);
    System.arraycopy(val, 0, all, train.length, val.length);
    String what = String.format(Locale.ROOT, "%s; GPT-2 BPE: %,d tokens (%,d training, %,d validation), %.2f bytes "
        + "per token, encoded in %.1f s (%.1f MB/s)", description, all.length, train.length, val.length,
        bytes.length / (double) Math.max(1, all.length), secs, bytes.length / 1e6 / Math.max(1e-9, secs));
    return new Corpus(all, train.length, tok.vocabSize(), TokenFile.identity(tok), byteStats(), what);
  }

  /** True when the tokens are not bytes (GPT-2 BPE ids, or a prepared file's). */
  public boolean isTokenized() {
    return !TokenFile.BYTES.equals(tokenizer);
  }

  /** The vocabulary the tokens come from: every token id is below it (256 for bytes). */
  public int vocabSize() {
    return vocab;
  }

  /** Which tokenizer made the tokens ({@link TokenFile#identity}): "bytes", or a GPT-2 BPE's name and hash. */
  public String tokenizer() {
    return tokenizer;
  }

  /** The largest token id in the corpus (one pass over it). */
  public int maxToken() {
    int max = -1;
    if (bytes != null) {
      for (byte b : bytes) max = Math.max(max, b & 0xFF);
    } else {
      for (long i = 0; i < size; i++) max = Math.max(max, token(i));
    }
    return max;
  }

  /** True when the tokens are read in place from a file that {@code weft prepare} wrote. */
  public boolean isPrepared() {
    return mapped != null;
  }

  /** Statistics of the text's bytes (before tokenizing), or null for a prepared token file. */
  public ByteStats byteStats() {
    return stats != null ? stats : bytes != null ? ByteStats.of(bytes) : null;
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

  /** {@link #ofText} encoded with {@code tokenizer} (null: bytes). */
  public static Corpus ofText(String name, byte[] text, Gpt2Tokenizer tokenizerOrNull) {
    Corpus c = CorpusLoader.ofSingleText(name, text);
    return tokenizerOrNull == null ? c : c.tokenize(tokenizerOrNull);
  }

  /** Tokens in the training part. */
  public long trainSize() {
    return trainSize;
  }

  /** Tokens in the held-out validation part. */
  public long valSize() {
    return size - trainSize;
  }

  /** One line: what the corpus is, its size, and the held-out part. */
  public String description() {
    return description;
  }

  /** Token {@code i} of the training part: in [0, 256) for bytes, a tokenizer id otherwise. */
  public int trainToken(long i) {
    return token(Objects.checkIndex(i, trainSize));
  }

  /** Token {@code i} of the validation part. */
  public int valToken(long i) {
    return token(trainSize + Objects.checkIndex(i, valSize()));
  }

  /** Token {@code at} of the whole corpus (training part, then validation part). */
  public int token(long at) {
    if (mapped != null) return mapped.token(at);
    return tokens != null ? tokens[(int) at] : bytes[(int) at] & 0xFF;
  }

  /** Tokens in both parts. */
  public long size() {
    return size;
  }

  /** Copies training tokens [start, start + n) into {@code dst[dstOff ..]}. */
  public void copyTrain(long start, int[] dst, int dstOff, int n) {
    Objects.checkFromIndexSize(start, n, trainSize);
    copy(start, dst, dstOff, n);
  }

  /** Copies validation tokens [start, start + n) into {@code dst[dstOff ..]}. */
  public void copyVal(long start, int[] dst, int dstOff, int n) {
    Objects.checkFromIndexSize(start, n, valSize());
    copy(trainSize + start, dst, dstOff, n);
  }

  private void copy(long from, int[] dst, int dstOff, int n) {
    Objects.checkFromIndexSize(dstOff, n, dst.length);
    if (mapped != null) {
      for (int k = 0; k < n; k++) dst[dstOff + k] = mapped.token(from + k);
    } else if (tokens != null) {
      System.arraycopy(tokens, (int) from, dst, dstOff, n);
    } else {
      for (int k = 0; k < n; k++) dst[dstOff + k] = bytes[(int) from + k] & 0xFF;
    }
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
