package dev.weft.data;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

/**
 * The GPT-2 byte-level BPE tokenizer (the one of OpenAI's {@code encoder.py} and Hugging Face's
 * {@code GPT2Tokenizer}), so that Weft can train and sample models with the 50257-token GPT-2 vocabulary.
 *
 * <p>Files (both in a Hugging Face model folder):
 * <ul>
 *   <li>{@code vocab.json}: one JSON object, token string to id, e.g. {@code {"!": 0, ..., "Ġthe": 262, ...,
 *       "<|endoftext|>": 50256}}. Token strings are bytes written with the byte-to-unicode alphabet below.
 *   <li>{@code merges.txt}: an optional first line {@code #version: ...}, then one merge per line, two token
 *       strings separated by one space ({@code Ġ t}); the rank of a merge is its order (first = 0 = applied
 *       first). Both halves and their concatenation must be tokens of vocab.json.
 * </ul>
 *
 * <p>Byte-to-unicode alphabet: every byte is written as one printable character. The bytes
 * {@code '!'..'~'}, {@code '¡'..'¬'} and {@code '®'..'ÿ'} are their own Latin-1 characters; the other 68
 * bytes (controls, space, 0x7F-0xA0, 0xAD), in increasing order, become U+0100, U+0101, ... (so space is
 * {@code Ġ} U+0120 and newline {@code Ċ} U+010A).
 *
 * <p>Encoding: the text is split into pre-tokens by GPT-2's pattern
 * {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+} ({@code \s} being
 * Unicode white space, as in Python); each pre-token's UTF-8 bytes start as single-byte tokens and the
 * adjacent pair of lowest merge rank is merged, every occurrence of it left to right, until no adjacent pair
 * has a merge. Results are cached per pre-token. Decoding concatenates the tokens' bytes and reads them as
 * UTF-8; {@link StreamDecoder} does so token by token, holding back bytes of an unfinished character.
 * Special tokens such as {@code <|endoftext|>} are not recognised in text (they are encoded as ordinary
 * characters) but decode to their text.
 *
 * <p>Thread-safe: a tokenizer is immutable except for its cache, a concurrent map.
 */
public final class Gpt2Tokenizer {
  public static final String VOCAB = "vocab.json";
  public static final String MERGES = "merges.txt";

  /** GPT-2's pre-tokenization pattern; {@code \s} is spelled as Unicode white space (Python's meaning). */
  static final Pattern PRETOKEN = Pattern.compile(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{IsWhite_Space}\\p{L}\\p{N}]+"
          + "|\\p{IsWhite_Space}+(?!\\P{IsWhite_Space})|\\p{IsWhite_Space}+");

  /** Byte b is written as character BYTE_TO_CHAR[b]. */
  static final char[] BYTE_TO_CHAR = byteToUnicode();
  /** The inverse: character c (below 512) is byte CHAR_TO_BYTE[c], or -1. */
  private static final int[] CHAR_TO_BYTE = charToByte();

  private static final int CACHE_LIMIT = 1 << 20;
  private static final int CACHED_WORD_CHARS = 64;
  private static final int CHUNK_BYTES = 1 << 20;

  private final Path folder;
  private final Map<String, Integer> encoder;
  private final byte[][] tokenBytes; // id -> its bytes; null for ids vocab.json leaves out
  private final int[] byteToken = new int[256]; // byte -> id of its single-byte token
  private final PairRanks ranks;
  private final int[] mergedId; // rank -> id of the merged token
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();

  private Gpt2Tokenizer(Path folder, Map<String, Integer> encoder, List<String[]> merges, int[] mergeLines) {
    this.folder = folder;
    this.encoder = encoder;
    int maxId = -1;
    for (int id : encoder.values()) maxId = Math.max(maxId, id);
    tokenBytes = new byte[maxId + 1][];
    for (Map.Entry<String, Integer> e : encoder.entrySet()) {
      if (tokenBytes[e.getValue()] != null) {
        throw malformed(VOCAB, "gives id " + e.getValue() + " to two tokens (one is \"" + e.getKey() + "\")",
            "every token needs its own id");
      }
      tokenBytes[e.getValue()] = toBytes(e.getKey());
    }
    for (int b = 0; b < 256; b++) {
      Integer id = encoder.get(String.valueOf(BYTE_TO_CHAR[b]));
      if (id == null) {
        throw malformed(VOCAB, String.format("has no token for the byte 0x%02X (\"%s\")", b, BYTE_TO_CHAR[b]),
            "a byte-level BPE vocabulary holds all 256 single-byte tokens");
      }
      byteToken[b] = id;
    }
    ranks = new PairRanks(merges.size());
    mergedId = new int[merges.size()];
    for (int r = 0; r < merges.size(); r++) {
      String[] m = merges.get(r);
      int line = mergeLines[r];
      Integer a = encoder.get(m[0]);
      Integer b = encoder.get(m[1]);
      Integer ab = encoder.get(m[0] + m[1]);
      String missing = a == null ? m[0] : b == null ? m[1] : ab == null ? m[0] + m[1] : null;
      if (missing != null) {
        throw new WeftInputException(folder.resolve(MERGES) + " line " + line + " (\"" + m[0] + " " + m[1]
            + "\") uses the token \"" + missing + "\", which " + folder.resolve(VOCAB) + " does not have. The two "
            + "files must come from the same tokenizer; copy both from the model's Hugging Face repository.");
      }
      ranks.putIfAbsent(a, b, r); // a repeated merge keeps its first (lowest) rank
      mergedId[r] = ab;
    }
  }

  // ---- loading ----------------------------------------------------------------------------------------

  /** Loads {@code dir/vocab.json} and {@code dir/merges.txt}; both must exist. */
  public static Gpt2Tokenizer load(Path dir) {
    Map<String, Integer> encoder = readVocab(dir.resolve(VOCAB));
    List<String[]> merges = new ArrayList<>();
    List<Integer> lines = new ArrayList<>();
    readMerges(dir.resolve(MERGES), merges, lines);
    return new Gpt2Tokenizer(dir, encoder, merges, lines.stream().mapToInt(Integer::intValue).toArray());
  }

  /**
   * The tokenizer of a model folder (or of the folder holding a .safetensors file): loaded when it has
   * vocab.json and merges.txt, null when it has neither; an error when it has only one of them.
   */
  public static Gpt2Tokenizer find(Path dirOrFile) {
    Path dir = folderOf(dirOrFile);
    boolean v = Files.isRegularFile(dir.resolve(VOCAB));
    boolean m = Files.isRegularFile(dir.resolve(MERGES));
    if (!v && !m) return null;
    if (v != m) {
      String has = v ? VOCAB : MERGES;
      String lacks = v ? MERGES : VOCAB;
      throw new WeftInputException(dir + " has " + has + " but no " + lacks + ": the GPT-2 tokenizer needs both. "
          + "Copy " + lacks + " from the model's Hugging Face repository (the one " + has + " came from) into "
          + dir + ", or remove " + has + " to use bytes as tokens.");
    }
    return load(dir);
  }

  /** Copies vocab.json and merges.txt from the folder of {@code fromDirOrFile}, if it has them, to {@code toDir}. */
  public static void copyFiles(Path fromDirOrFile, Path toDir) throws IOException {
    Path from = folderOf(fromDirOrFile);
    for (String f : new String[] {VOCAB, MERGES}) {
      if (Files.isRegularFile(from.resolve(f))) {
        Files.copy(from.resolve(f), toDir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  private static Path folderOf(Path dirOrFile) {
    if (Files.isRegularFile(dirOrFile)) {
      Path parent = dirOrFile.toAbsolutePath().getParent();
      return parent == null ? Path.of(".") : parent;
    }
    return dirOrFile;
  }

  private static Map<String, Integer> readVocab(Path file) {
    Map<String, Integer> enc = new HashMap<>();
    try (InputStream in = Files.newInputStream(file);
         JsonParser p = new ObjectMapper().getFactory().createParser(in)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw malformed(file, "line " + p.currentLocation().getLineNr(), "is not a JSON object",
            "vocab.json maps token strings to ids: {\"!\": 0, \"\\\"\": 1, ...}");
      }
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        String token = p.currentName();
        JsonToken v = p.nextToken();
        if (v != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT || p.getIntValue() < 0) {
          throw malformed(file, "line " + p.currentLocation().getLineNr(), "gives the token \"" + token + "\" the id "
              + p.getText() + ", which is not a non-negative integer", "every id is an integer 0, 1, 2, ...");
        }
        if (token.isEmpty()) {
          throw malformed(file, "line " + p.currentLocation().getLineNr(), "has an empty token", "remove it");
        }
        if (enc.put(token, p.getIntValue()) != null) {
          throw malformed(file, "line " + p.currentLocation().getLineNr(), "has the token \"" + token + "\" twice",
              "every token appears once");
        }
      }
      if (t != JsonToken.END_OBJECT) {
        throw malformed(file, "line " + p.currentLocation().getLineNr(), "is not a flat JSON object of token ids",
            "vocab.json maps token strings to ids: {\"!\": 0, \"\\\"\": 1, ...}");
      }
    } catch (NoSuchFileException e) {
      throw missing(file);
    } catch (JsonParseException e) {
      throw malformed(file, "line " + e.getLocation().getLineNr(), "is not valid JSON (" + e.getOriginalMessage() + ")",
          "re-download it");
    } catch (IOException e) {
      throw new WeftInputException("Could not read " + file + ": " + e.getMessage() + ". Make it readable.", e);
    }
    if (enc.isEmpty()) throw malformed(file, "line 1", "holds no tokens", "re-download it");
    return enc;
  }

  private static void readMerges(Path file, List<String[]> merges, List<Integer> lines) {
    byte[] all;
    try {
      all = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw missing(file);
    } catch (IOException e) {
      throw new WeftInputException("Could not read " + file + ": " + e.getMessage() + ". Make it readable.", e);
    }
    CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
    int lineNo = 0;
    for (int start = 0; start < all.length; ) {
      int end = start;
      while (end < all.length && all[end] != '\n') end++;
      lineNo++;
      String line;
      try {
        line = strict.decode(ByteBuffer.wrap(all, start, end - start)).toString();
      } catch (CharacterCodingException e) {
        throw malformed(file, "line " + lineNo, "is not valid UTF-8", "the file is UTF-8 text");
      }
      start = end + 1;
      if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
      if (lineNo == 1 && line.startsWith("\uFEFF")) line = line.substring(1);
      if (lineNo == 1 && line.startsWith("#version")) continue;
      if (line.isEmpty()) continue;
      int sp = line.indexOf(' ');
      if (sp <= 0 || sp == line.length() - 1 || line.indexOf(' ', sp + 1) >= 0) {
        throw malformed(file, "line " + lineNo, "is \"" + abbreviate(line) + "\", not a merge",
            "every line after the #version line is two tokens separated by one space, like \"Ġ t\"");
      }
      merges.add(new String[] {line.substring(0, sp), line.substring(sp + 1)});
      lines.add(lineNo);
    }
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 60) + "...";
  }

  private static WeftInputException missing(Path file) {
    return new WeftInputException(file + " does not exist. The GPT-2 tokenizer needs vocab.json and merges.txt "
        + "side by side; copy both from the model's Hugging Face repository (e.g. openai-community/gpt2).");
  }

  private static WeftInputException malformed(Path file, String where, String problem, String fix) {
    return new WeftInputException(file + " " + where + " " + problem + "; " + fix + ". Fix the file or re-download "
        + "it from the model's Hugging Face repository.");
  }

  private WeftInputException malformed(String name, String problem, String fix) {
    return new WeftInputException(folder.resolve(name) + " " + problem + "; " + fix + ". Fix the file or "
        + "re-download it from the model's Hugging Face repository.");
  }

  // ---- the alphabet -----------------------------------------------------------------------------------

  private static char[] byteToUnicode() {
    char[] map = new char[256];
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      map[b] = printable ? (char) b : (char) next++;
    }
    return map;
  }

  private static int[] charToByte() {
    int[] inv = new int[512];
    Arrays.fill(inv, -1);
    for (int b = 0; b < 256; b++) inv[BYTE_TO_CHAR[b]] = b;
    return inv;
  }

  /** A token string's bytes: each character of the alphabet is its byte; any other character its UTF-8. */
  private static byte[] toBytes(String token) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(token.length());
    for (int i = 0; i < token.length(); ) {
      int cp = token.codePointAt(i);
      if (cp < CHAR_TO_BYTE.length && CHAR_TO_BYTE[cp] >= 0) {
        out.write(CHAR_TO_BYTE[cp]);
      } else {
        out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
      }
      i += Character.charCount(cp);
    }
    return out.toByteArray();
  }

  // ---- the API ----------------------------------------------------------------------------------------

  /** One more than the largest id of vocab.json (50257 for GPT-2). */
  public int vocabSize() {
    return tokenBytes.length;
  }

  /** Merges in merges.txt (50000 for GPT-2). */
  public int mergeCount() {
    return mergedId.length;
  }

  /** The folder the files were read from. */
  public Path folder() {
    return folder;
  }

  /** The id of a token string as written in vocab.json (e.g. "<|endoftext|>"), or -1. */
  public int tokenId(String token) {
    Integer id = encoder.get(token);
    return id == null ? -1 : id;
  }

  /** One line for logs: where the tokenizer came from and its size. */
  public String describe() {
    return String.format(java.util.Locale.ROOT, "GPT-2 byte-level BPE from %s (%,d tokens, %,d merges)", folder,
        vocabSize(), mergeCount());
  }

  /** The token ids of {@code text}. */
  public int[] encode(String text) {
    IntList out = new IntList(Math.max(16, text.length() / 3));
    encodeInto(text, 0, text.length(), out);
    return out.toArray();
  }

  /**
   * The token ids of the UTF-8 bytes {@code b[off, off+len)} (invalid UTF-8 reads as U+FFFD), encoded in
   * chunks of about 1 MB on a few threads; the result equals {@code encode(new String(...))}. Chunks end
   * after a newline that a non-blank ASCII character follows: no pre-token spans such a point, and each
   * chunk's matcher sees the next character (for the pattern's look-ahead).
   */
  public int[] encodeUtf8(byte[] b, int off, int len) {
    return encodeUtf8(b, off, len, CHUNK_BYTES);
  }

  int[] encodeUtf8(byte[] b, int off, int len, int chunkBytes) {
    List<int[]> bounds = new ArrayList<>();
    int end = off + len;
    int start = off;
    while (start < end) {
      int cut = Math.min(end, start + chunkBytes);
      while (cut < end && !(b[cut - 1] == '\n' && b[cut] > ' ' && b[cut] < 0x7F)) cut++;
      bounds.add(new int[] {start, cut});
      start = cut;
    }
    int[][] parts = IntStream.range(0, bounds.size()).parallel().mapToObj(i -> {
      int a = bounds.get(i)[0];
      int z = bounds.get(i)[1];
      boolean peek = z < end;
      String s = decodeLenient(b, a, z - a + (peek ? 1 : 0));
      IntList out = new IntList(Math.max(16, (z - a) / 3));
      encodeInto(s, 0, s.length() - (peek ? 1 : 0), out);
      return out.toArray();
    }).toArray(int[][]::new);
    int total = 0;
    for (int[] p : parts) total += p.length;
    int[] ids = new int[total];
    int at = 0;
    for (int[] p : parts) {
      System.arraycopy(p, 0, ids, at, p.length);
      at += p.length;
    }
    return ids;
  }

  private static String decodeLenient(byte[] b, int off, int len) {
    return new String(b, off, len, StandardCharsets.UTF_8); // malformed input becomes U+FFFD
  }

  private void encodeInto(String text, int from, int to, IntList out) {
    Matcher m = PRETOKEN.matcher(text);
    m.region(from, to);
    m.useTransparentBounds(true); // the look-ahead (?!\S) sees past the region
    while (m.find()) {
      String word = text.substring(m.start(), m.end());
      int[] ids = cache.get(word);
      if (ids == null) {
        ids = bpe(word.getBytes(StandardCharsets.UTF_8));
        if (word.length() <= CACHED_WORD_CHARS) {
          if (cache.size() >= CACHE_LIMIT) cache.clear();
          cache.put(word, ids);
        }
      }
      out.addAll(ids);
    }
  }

  /** Pre-tokens of {@code text} (for tests). */
  static List<String> pretokenize(String text) {
    List<String> words = new ArrayList<>();
    Matcher m = PRETOKEN.matcher(text);
    while (m.find()) words.add(m.group());
    return words;
  }

  /** BPE of one pre-token: merge the lowest-ranked adjacent pair, every occurrence left to right, until none. */
  private int[] bpe(byte[] word) {
    int[] sym = new int[word.length];
    for (int i = 0; i < word.length; i++) sym[i] = byteToken[word[i] & 0xFF];
    int n = sym.length;
    while (n > 1) {
      int best = Integer.MAX_VALUE;
      for (int i = 0; i + 1 < n; i++) {
        int r = ranks.get(sym[i], sym[i + 1]);
        if (r >= 0 && r < best) best = r;
      }
      if (best == Integer.MAX_VALUE) break;
      int merged = mergedId[best];
      int w = 0;
      for (int i = 0; i < n; ) {
        if (i + 1 < n && ranks.get(sym[i], sym[i + 1]) == best) {
          sym[w++] = merged;
          i += 2;
        } else {
          sym[w++] = sym[i++];
        }
      }
      n = w;
    }
    return n == sym.length ? sym : Arrays.copyOf(sym, n);
  }

  /** The bytes of {@code ids}, concatenated. */
  public byte[] decodeBytes(int[] ids) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length * 4);
    for (int id : ids) out.writeBytes(bytesOf(id));
    return out.toByteArray();
  }

  /** The text of {@code ids}: their bytes read as UTF-8 (invalid sequences become U+FFFD). */
  public String decode(int[] ids) {
    return new String(decodeBytes(ids), StandardCharsets.UTF_8);
  }

  /** The bytes of one token. */
  public byte[] bytesOf(int id) {
    byte[] b = id >= 0 && id < tokenBytes.length ? tokenBytes[id] : null;
    if (b == null) {
      throw new IllegalArgumentException("token id " + id + " is not in " + folder.resolve(VOCAB) + " (ids 0.."
          + (tokenBytes.length - 1) + ")");
    }
    return b;
  }

  /** A decoder fed one token at a time, for printing a sample as it is generated. */
  public StreamDecoder streamDecoder() {
    return new StreamDecoder(this);
  }

  /**
   * Decodes a stream of tokens: {@link #push} returns the text completed by a token; the bytes of a UTF-8
   * character split across tokens are held back until its last byte arrives. Invalid bytes come out as
   * U+FFFD at once; {@link #flush} gives whatever is held back (as U+FFFD) at the end.
   */
  public static final class StreamDecoder {
    private final Gpt2Tokenizer tok;
    private byte[] pending = new byte[8];
    private int n;

    private StreamDecoder(Gpt2Tokenizer tok) {
      this.tok = tok;
    }

    /** The text that token {@code id} completes (possibly empty). */
    public String push(int id) {
      byte[] b = tok.bytesOf(id);
      if (n + b.length > pending.length) pending = Arrays.copyOf(pending, Math.max(2 * pending.length, n + b.length));
      System.arraycopy(b, 0, pending, n, b.length);
      n += b.length;
      int keep = incompleteTail(pending, n);
      String s = new String(pending, 0, n - keep, StandardCharsets.UTF_8);
      System.arraycopy(pending, n - keep, pending, 0, keep);
      n = keep;
      return s;
    }

    /** The held-back bytes (an unfinished character, as U+FFFD), and a fresh start. */
    public String flush() {
      String s = new String(pending, 0, n, StandardCharsets.UTF_8);
      n = 0;
      return s;
    }

    /** Bytes at the end of b[0, n) that start a valid UTF-8 sequence which needs more bytes; else 0. */
    static int incompleteTail(byte[] b, int n) {
      for (int back = 1; back <= Math.min(3, n); back++) {
        int c = b[n - back] & 0xFF;
        if ((c & 0xC0) == 0x80) continue; // a continuation byte: look further back for its lead
        int need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
        return need > back ? back : 0;
      }
      return 0;
    }
  }

  // ---- small collections --------------------------------------------------------------------------------

  /** Open-addressing map from a pair of token ids to its merge rank. */
  private static final class PairRanks {
    private final long[] keys;
    private final int[] values;
    private final int mask;

    PairRanks(int expected) {
      int cap = Integer.highestOneBit(Math.max(4, expected * 2 + 1)) << 1;
      keys = new long[cap];
      values = new int[cap];
      Arrays.fill(keys, -1L);
      mask = cap - 1;
    }

    private static long key(int a, int b) {
      return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    private static int slot(long k, int mask) {
      long h = k * 0x9E3779B97F4A7C15L;
      return (int) (h ^ (h >>> 29)) & mask;
    }

    void putIfAbsent(int a, int b, int rank) {
      long k = key(a, b);
      for (int i = slot(k, mask); ; i = (i + 1) & mask) {
        if (keys[i] == k) return;
        if (keys[i] == -1L) {
          keys[i] = k;
          values[i] = rank;
          return;
        }
      }
    }

    int get(int a, int b) {
      long k = key(a, b);
      for (int i = slot(k, mask); ; i = (i + 1) & mask) {
        if (keys[i] == k) return values[i];
        if (keys[i] == -1L) return -1;
      }
    }
  }

  /** A growable int array. */
  static final class IntList {
    private int[] a;
    private int n;

    IntList(int capacity) {
      a = new int[Math.max(1, capacity)];
    }

    void addAll(int[] xs) {
      if (n + xs.length > a.length) a = Arrays.copyOf(a, Math.max(2 * a.length, n + xs.length));
      System.arraycopy(xs, 0, a, n, xs.length);
      n += xs.length;
    }

    int[] toArray() {
      return Arrays.copyOf(a, n);
    }
  }
}
