package dev.weft.data;

import dev.weft.WeftInputException;
import dev.weft.io.AtomicFiles;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * A corpus tokenized once ({@code weft prepare}) and read in place by {@code weft train --data FILE}: a small
 * header, then the tokens, memory-mapped, so a large corpus costs neither the tokenizing nor the heap again.
 *
 * <p>The format (version 1), every number little-endian:
 * <pre>
 *   offset  size  field
 *   0       8     magic: the ASCII bytes "WEFTTOKS"
 *   8       4     version: 1
 *   12      4     header size H in bytes: where the tokens start (a multiple of 64)
 *   16      4     vocabulary size V: every token is in [0, V)
 *   20      4     bytes per token: 2 (unsigned 16-bit, when V &lt;= 65536) or 4 (signed 32-bit)
 *   24      8     token count N
 *   32      8     training tokens N_train: tokens [0, N_train) are for training, [N_train, N) held out
 *   40      4+L1  the tokenizer's identity: its length L1, then L1 bytes of UTF-8 ({@link #identity})
 *   ..      4+L2  where the tokens came from: its length L2, then L2 bytes of UTF-8 (for people)
 *   ..            zero bytes up to H
 *   H       N*b   the tokens
 * </pre>
 * The file is exactly H + N * (bytes per token) long. The held-out part is the same as {@code train --data}
 * holds out of the text: every hundredth file (sorted index i with i % 100 == 37) of a folder or zip with at
 * least 38 files, else the last 1% of the bytes ({@link Corpus}); its tokens follow the training tokens, so
 * training on the file sees exactly the batches that training on the text would.
 */
public final class TokenFile {
  /** The identity of byte-level tokens (vocabulary 256). */
  public static final String BYTES = "bytes";

  static final byte[] MAGIC = "WEFTTOKS".getBytes(StandardCharsets.US_ASCII);
  static final int VERSION = 1;
  private static final int ALIGN = 64;
  private static final int FIXED = 40;
  private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private TokenFile() {}

  /**
   * Which tokenizer made a corpus's tokens: {@value #BYTES} for bytes; for a GPT-2 BPE,
   * "gpt2-bpe vocab=V merges=M sha256=H" with H the first 16 hex digits of the SHA-256 of its vocab.json
   * followed by its merges.txt, so two copies of one tokenizer agree and any other differs.
   */
  public static String identity(Gpt2Tokenizer tokOrNull) {
    if (tokOrNull == null) return BYTES;
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update(Files.readAllBytes(tokOrNull.folder().resolve(Gpt2Tokenizer.VOCAB)));
      sha.update(Files.readAllBytes(tokOrNull.folder().resolve(Gpt2Tokenizer.MERGES)));
      return String.format(Locale.ROOT, "gpt2-bpe vocab=%d merges=%d sha256=%s", tokOrNull.vocabSize(),
          tokOrNull.mergeCount(), HexFormat.of().formatHex(sha.digest(), 0, 8));
    } catch (IOException e) {
      throw new WeftInputException("cannot read the tokenizer files in " + tokOrNull.folder() + ": " + e.getMessage()
          + ". Check that vocab.json and merges.txt are readable.");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** True when {@code p} is a regular file that starts with the token file's magic. */
  public static boolean isTokenFile(Path p) {
    if (!Files.isRegularFile(p)) return false;
    try (var in = Files.newInputStream(p)) {
      return Arrays.equals(in.readNBytes(MAGIC.length), MAGIC);
    } catch (IOException e) {
      return false;
    }
  }

  /** Bytes per token for a vocabulary of {@code vocab}: 2 up to 65,536 tokens, else 4. */
  static int tokenBytes(int vocab) {
    return vocab <= 65536 ? 2 : 4;
  }

  /**
   * Writes every token of {@code corpus} (training part, then validation part) to {@code out}, atomically
   * (a reader never sees half a file); {@code source} says where they came from. Returns the file's size.
   */
  public static long write(Path out, Corpus corpus, String source) {
    int vocab = corpus.vocabSize();
    int b = tokenBytes(vocab);
    byte[] id = corpus.tokenizer().getBytes(StandardCharsets.UTF_8);
    byte[] src = source.getBytes(StandardCharsets.UTF_8);
    int header = roundUp(FIXED + 4 + id.length + 4 + src.length);
    ByteBuffer h = ByteBuffer.allocate(header).order(ByteOrder.LITTLE_ENDIAN);
    h.put(MAGIC).putInt(VERSION).putInt(header).putInt(vocab).putInt(b).putLong(corpus.size())
        .putLong(corpus.trainSize()).putInt(id.length).put(id).putInt(src.length).put(src);
    h.position(0);
    AtomicFiles.writeChannel(out, ch -> {
      writeFully(ch, h);
      ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      for (long i = 0; i < corpus.size(); i++) {
        if (buf.remaining() < b) {
          buf.flip();
          writeFully(ch, buf);
          buf.clear();
        }
        int t = corpus.token(i);
        if (b == 2) buf.putShort((short) t);
        else buf.putInt(t);
      }
      buf.flip();
      writeFully(ch, buf);
    });
    return header + corpus.size() * b;
  }

  private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) ch.write(buf);
  }

  private static int roundUp(int n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
  }

  /**
   * Opens a token file, checking its header, its length and every token against the vocabulary; any fault
   * is bad input naming the file and the fix (prepare it again).
   */
  public static Corpus open(Path file) {
    Mapped m = map(file);
    String description = String.format(Locale.ROOT, "token file %s (%s): %,d tokens of a vocabulary of %,d (%s), "
        + "%,d held out for validation; prepared from %s", file, m.tokenBytes == 2 ? "uint16" : "int32", m.count,
        m.vocab, m.tokenizer, m.count - m.trainCount, m.source);
    return new Corpus(m, description);
  }

  /** The mapped tokens of an open token file and what its header says of them. */
  static final class Mapped {
    private final MemorySegment tokens;
    private final int tokenBytes;
    private final long count;
    private final long trainCount;
    private final int vocab;
    private final String tokenizer;
    private final String source;

    private Mapped(MemorySegment tokens, int tokenBytes, long count, long trainCount, int vocab, String tokenizer,
                   String source) {
      this.tokens = tokens;
      this.tokenBytes = tokenBytes;
      this.count = count;
      this.trainCount = trainCount;
      this.vocab = vocab;
      this.tokenizer = tokenizer;
      this.source = source;
    }

    int token(long i) {
      return tokenBytes == 2 ? Short.toUnsignedInt(tokens.get(U16, 2 * i)) : tokens.get(I32, 4 * i);
    }

    long count() { return count; }
    long trainCount() { return trainCount; }
    int vocab() { return vocab; }
    String tokenizer() { return tokenizer; }
  }

  private static Mapped map(Path file) {
    long size;
    MemorySegment all;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      size = ch.size();
      if (size < FIXED + 8) throw bad(file, "it is " + size + " bytes long, shorter than the header");
      all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, Arena.ofAuto());
    } catch (IOException e) {
      throw new WeftInputException("cannot read the token file " + file + ": " + e.getMessage()
          + ". Check that it exists and is readable.");
    }
    ByteBuffer h = all.asSlice(0, Math.min(size, 1 << 16)).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[MAGIC.length];
    h.get(magic);
    if (!Arrays.equals(magic, MAGIC)) throw bad(file, "it does not start with the token file's magic \"WEFTTOKS\"");
    int version = h.getInt();
    if (version != VERSION) {
      throw bad(file, "it is version " + version + " of the format; this Weft reads version " + VERSION);
    }
    int header = h.getInt();
    int vocab = h.getInt();
    int b = h.getInt();
    long count = h.getLong();
    long train = h.getLong();
    if (header < FIXED + 8 || header % ALIGN != 0 || header > h.capacity()) {
      throw bad(file, "its header size " + header + " is not a multiple of " + ALIGN + " within the file");
    }
    if (vocab < 1) throw bad(file, "its vocabulary size is " + vocab);
    if (b != tokenBytes(vocab)) {
      throw bad(file, "it stores " + b + " bytes per token for a vocabulary of " + vocab + " (version 1 stores "
          + tokenBytes(vocab) + ")");
    }
    if (count < 0 || train < 0 || train > count) {
      throw bad(file, "it says " + count + " tokens of which " + train + " are for training");
    }
    String tokenizer = text(h, header, file, "tokenizer identity");
    String source = text(h, header, file, "source");
    long want = header + count * b;
    if (size != want) {
      throw bad(file, String.format(Locale.ROOT, "it is %,d bytes long but its header promises %,d (%,d tokens of %d "
          + "bytes after a %d-byte header): it is %s", size, want, count, b, header, size < want ? "truncated"
          : "longer than written"));
    }
    Mapped m = new Mapped(all.asSlice(header), b, count, train, vocab, tokenizer, source);
    if (b == 4 || vocab < 65536) {
      for (long i = 0; i < count; i++) {
        int t = m.token(i);
        if (t < 0 || t >= vocab) {
          throw bad(file, "token " + i + " is " + t + ", outside its vocabulary of " + vocab);
        }
      }
    }
    return m;
  }

  private static String text(ByteBuffer h, int header, Path file, String what) {
    if (h.position() + 4 > header) throw bad(file, "its " + what + " runs past the header");
    int len = h.getInt();
    if (len < 0 || h.position() + len > header) throw bad(file, "its " + what + " runs past the header");
    byte[] b = new byte[len];
    h.get(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private static WeftInputException bad(Path file, String why) {
    return new WeftInputException("--data " + file + " is not a valid Weft token file: " + why + ". It may be "
        + "damaged or cut short; write it again with 'weft prepare --data TEXT --out " + file.getFileName() + "'.");
  }
}
