package dev.weft.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading. Byte layout:
 *
 * <pre>
 *   [0, 8)        N, the header length: unsigned 64-bit little-endian
 *   [8, 8+N)      UTF-8 JSON object: {"NAME": {"dtype": "F32", "shape": [d0, d1, ..],
 *                 "data_offsets": [begin, end]}, .., "__metadata__": {"key": "value", ..}}
 *                 (may be padded with trailing spaces)
 *   [8+N, EOF)    the data buffer; tensor NAME is bytes [begin, end) of it, row-major, little-endian
 * </pre>
 *
 * {@link #open} checks the whole header before trusting any of it (length, JSON, fields, dtypes, shapes,
 * offsets in range, consistent with shape x dtype size, not overlapping, names unique) and reports any
 * problem as a {@link WeftInputException} naming the file. The data buffer is memory-mapped, so opening
 * is cheap and each read is one bulk copy. Reads may run on several threads; {@link #close()} unmaps.
 */
public final class SafeTensorsFile implements AutoCloseable {
  /** Largest header accepted; real headers are kilobytes, so anything bigger is corruption. */
  static final long MAX_HEADER_BYTES = 100L << 20;

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private record Entry(String name, DType dtype, int[] shape, long numel, long begin, long end) {}

  private final Path path;
  private final Map<String, Entry> entries; // header order
  private final Map<String, String> metadata;
  private final Arena arena;
  private final MemorySegment data;

  private SafeTensorsFile(Path path, Map<String, Entry> entries, Map<String, String> metadata, Arena arena,
      MemorySegment data) {
    this.path = path;
    this.entries = entries;
    this.metadata = metadata;
    this.arena = arena;
    this.data = data;
  }

  /** Opens and validates {@code path}; the caller closes it. */
  public static SafeTensorsFile open(Path path) {
    if (!Files.exists(path)) {
      throw new WeftInputException(path + " does not exist. Give the path of a .safetensors file (or of a "
          + "model folder that contains model.safetensors).");
    }
    if (Files.isDirectory(path)) {
      throw new WeftInputException(path + " is a folder, not a .safetensors file. Give the file inside it "
          + "(usually model.safetensors).");
    }
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long fileSize = ch.size();
      if (fileSize < 8) {
        throw bad(path, "it has only " + fileSize + " bytes, fewer than the 8-byte header length");
      }
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, lenBuf, 0);
      long n = lenBuf.getLong(0); // unsigned: a negative value means >= 2^63
      if (n < 0 || n > MAX_HEADER_BYTES) {
        throw bad(path, "its first 8 bytes give a header length of " + Long.toUnsignedString(n)
            + " bytes, more than the " + (MAX_HEADER_BYTES >> 20) + " MB any real header needs; it is probably "
            + "not a safetensors file or it is corrupt");
      }
      if (8 + n > fileSize) {
        throw bad(path, "its header claims " + n + " bytes but the file has only " + (fileSize - 8)
            + " bytes after the length field");
      }
      ByteBuffer header = ByteBuffer.allocate((int) n);
      readFully(ch, header, 8);
      long dataStart = 8 + n;
      long dataSize = fileSize - dataStart;
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, Entry> entries = parseHeader(path, header.array(), dataSize, metadata);
      checkLayout(path, entries, dataSize);
      Arena arena = Arena.ofShared();
      MemorySegment seg;
      try {
        seg = dataSize == 0 ? MemorySegment.ofArray(new byte[0])
            : ch.map(FileChannel.MapMode.READ_ONLY, dataStart, dataSize, arena);
      } catch (IOException | RuntimeException e) {
        arena.close();
        throw e;
      }
      return new SafeTensorsFile(path, Collections.unmodifiableMap(entries),
          Collections.unmodifiableMap(metadata), arena, seg);
    } catch (IOException e) {
      throw new WeftInputException("Could not read " + path + ": " + AtomicFiles.describe(e)
          + ". Check that the file exists and is readable.", e);
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int r = ch.read(buf, pos);
      if (r < 0) throw new IOException("unexpected end of file");
      pos += r;
    }
  }

  private static WeftInputException bad(Path path, String problem) {
    return new WeftInputException(path + " is not a valid safetensors file: " + problem
        + ". The file may be truncated or corrupt; re-download or re-save it.");
  }

  private static Map<String, Entry> parseHeader(Path path, byte[] header, long dataSize,
      Map<String, String> metadata) {
    Map<String, Entry> entries = new LinkedHashMap<>();
    try (JsonParser p = JSON.createParser(header)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw bad(path, "its header is not a JSON object");
      }
      boolean sawMetadata = false;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        JsonNode value = p.readValueAsTree();
        if (name.equals("__metadata__")) {
          if (sawMetadata) throw bad(path, "its header has \"__metadata__\" twice");
          sawMetadata = true;
          readMetadata(path, value, metadata);
          continue;
        }
        if (entries.containsKey(name)) {
          throw bad(path, "tensor '" + name + "' appears twice in its header");
        }
        entries.put(name, parseEntry(path, name, value, dataSize));
      }
      if (p.currentToken() != JsonToken.END_OBJECT) {
        throw bad(path, "its header is not a complete JSON object");
      }
      if (p.nextToken() != null) {
        throw bad(path, "its header has content after the JSON object");
      }
    } catch (IOException e) { // Jackson's parse errors, invalid UTF-8 included
      throw bad(path, "its header is not valid JSON (" + firstLine(e.getMessage()) + ")");
    }
    return entries;
  }

  private static String firstLine(String s) {
    if (s == null) return "unreadable";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static void readMetadata(Path path, JsonNode value, Map<String, String> out) {
    if (value.isNull()) return;
    if (!value.isObject()) throw bad(path, "its \"__metadata__\" is not a JSON object of strings");
    for (Map.Entry<String, JsonNode> e : value.properties()) {
      if (!e.getValue().isTextual()) {
        throw bad(path, "metadata value for '" + e.getKey() + "' is not a string (safetensors metadata maps "
            + "strings to strings)");
      }
      out.put(e.getKey(), e.getValue().textValue());
    }
  }

  private static Entry parseEntry(Path path, String name, JsonNode v, long dataSize) {
    String where = "tensor '" + name + "'";
    if (!v.isObject()) throw bad(path, where + " is not described by a JSON object");
    JsonNode dt = v.get("dtype");
    if (dt == null || !dt.isTextual()) throw bad(path, where + " has no \"dtype\" string");
    DType dtype = DType.parse(dt.textValue());
    if (dtype == null) {
      throw bad(path, where + " has unknown dtype \"" + dt.textValue() + "\" (known: " + DType.allNames() + ")");
    }
    JsonNode sh = v.get("shape");
    if (sh == null || !sh.isArray()) throw bad(path, where + " has no \"shape\" array");
    int[] shape = new int[sh.size()];
    long numel = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = sh.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToInt() || d.intValue() < 0) {
        throw bad(path, where + " has shape " + sh + " whose dimension " + i + " is not an integer in [0, 2^31)");
      }
      shape[i] = d.intValue();
      numel = numel == 0 || shape[i] == 0 ? 0 : multiplyOrMax(numel, shape[i]);
    }
    JsonNode off = v.get("data_offsets");
    if (off == null || !off.isArray() || off.size() != 2) {
      throw bad(path, where + " has no \"data_offsets\" array [begin, end]");
    }
    for (JsonNode o : off) {
      if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
        throw bad(path, where + " has data_offsets " + off + " that are not non-negative integers");
      }
    }
    long begin = off.get(0).longValue();
    long end = off.get(1).longValue();
    if (begin > end) throw bad(path, where + " has data_offsets " + off + " with begin after end");
    if (end > dataSize) {
      throw bad(path, where + " ends at byte " + end + " of the data buffer, but the file holds only " + dataSize
          + " data bytes");
    }
    long expected = multiplyOrMax(numel, dtype.bytes());
    if (end - begin != expected) {
      throw bad(path, where + " has shape " + Arrays.toString(shape) + " and dtype " + dtype + ", which need "
          + (expected == Long.MAX_VALUE ? "more than 2^63" : String.valueOf(expected)) + " bytes, but its "
          + "data_offsets " + off + " span " + (end - begin) + " bytes");
    }
    return new Entry(name, dtype, shape, numel, begin, end);
  }

  private static long multiplyOrMax(long a, long b) {
    long hi = Math.multiplyHigh(a, b);
    long lo = a * b;
    return hi != 0 || lo < 0 ? Long.MAX_VALUE : lo;
  }

  private static void checkLayout(Path path, Map<String, Entry> entries, long dataSize) {
    List<Entry> byOffset = new ArrayList<>();
    for (Entry e : entries.values()) {
      if (e.end > e.begin) byOffset.add(e); // empty tensors occupy no bytes
    }
    byOffset.sort(Comparator.comparingLong(Entry::begin));
    for (int i = 1; i < byOffset.size(); i++) {
      Entry prev = byOffset.get(i - 1);
      Entry cur = byOffset.get(i);
      if (cur.begin < prev.end) {
        throw bad(path, "tensors '" + prev.name + "' [" + prev.begin + ", " + prev.end + ") and '" + cur.name
            + "' [" + cur.begin + ", " + cur.end + ") overlap in the data buffer");
      }
    }
  }

  public Path path() {
    return path;
  }

  /** Tensor names in header order. */
  public List<String> names() {
    return List.copyOf(entries.keySet());
  }

  public boolean has(String name) {
    return entries.containsKey(name);
  }

  public int[] shape(String name) {
    return entry(name).shape.clone();
  }

  public DType dtype(String name) {
    return entry(name).dtype;
  }

  /** Number of elements (1 for a scalar of shape []). */
  public long numel(String name) {
    return entry(name).numel;
  }

  /** The {@code __metadata__} strings (empty if the file has none). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The tensor as floats: F32 as is; F16, BF16 and F64 converted. */
  public float[] floats(String name) {
    Entry e = entry(name);
    int n = arrayLength(e);
    float[] out = new float[n];
    long base = e.begin;
    switch (e.dtype) {
      case F32 -> MemorySegment.copy(data, F32, base, out, 0, n);
      case F16 -> {
        for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(data.get(I16, base + 2L * i));
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat((data.get(I16, base + 2L * i) & 0xFFFF) << 16);
      }
      case F64 -> {
        for (int i = 0; i < n; i++) out[i] = (float) data.get(F64, base + 8L * i);
      }
      default -> throw new WeftInputException("Tensor '" + name + "' in " + path + " has dtype " + e.dtype
          + ", but Weft expects floating-point values (F32, F16, BF16 or F64) there. Re-save the tensor as F32.");
    }
    return out;
  }

  /** The tensor as ints: I32 as is; I64, U32, U64 converted if every value fits; I16, U16, I8, U8, BOOL widened. */
  public int[] ints(String name) {
    Entry e = entry(name);
    int n = arrayLength(e);
    int[] out = new int[n];
    long base = e.begin;
    switch (e.dtype) {
      case I32 -> MemorySegment.copy(data, I32, base, out, 0, n);
      case I64, U64 -> {
        for (int i = 0; i < n; i++) {
          long v = data.get(I64, base + 8L * i);
          if (v != (int) v || (e.dtype == DType.U64 && v < 0)) throw outOfRange(e, i,
              e.dtype == DType.U64 ? Long.toUnsignedString(v) : Long.toString(v));
          out[i] = (int) v;
        }
      }
      case U32 -> {
        for (int i = 0; i < n; i++) {
          int v = data.get(I32, base + 4L * i);
          if (v < 0) throw outOfRange(e, i, Integer.toUnsignedString(v));
          out[i] = v;
        }
      }
      case I16 -> {
        for (int i = 0; i < n; i++) out[i] = data.get(I16, base + 2L * i);
      }
      case U16 -> {
        for (int i = 0; i < n; i++) out[i] = data.get(I16, base + 2L * i) & 0xFFFF;
      }
      case I8 -> {
        for (int i = 0; i < n; i++) out[i] = data.get(ValueLayout.JAVA_BYTE, base + i);
      }
      case U8, BOOL -> {
        for (int i = 0; i < n; i++) out[i] = data.get(ValueLayout.JAVA_BYTE, base + i) & 0xFF;
      }
      default -> throw new WeftInputException("Tensor '" + name + "' in " + path + " has dtype " + e.dtype
          + ", but Weft expects integers (I32 or I64) there. Re-save the tensor as I32.");
    }
    return out;
  }

  private WeftInputException outOfRange(Entry e, int index, String value) {
    return new WeftInputException("Tensor '" + e.name + "' in " + path + " holds " + value + " at element "
        + index + ", which does not fit in a 32-bit int. Token ids and other integer inputs must be in "
        + "[-2^31, 2^31).");
  }

  private Entry entry(String name) {
    Entry e = entries.get(name);
    if (e == null) {
      throw new WeftInputException(path + " has no tensor named '" + name + "'. It has " + entries.size()
          + " tensors" + (entries.isEmpty() ? "" : ", e.g. " + String.join(", ",
              entries.keySet().stream().limit(5).toList())) + ". Check that the file is the one meant.");
    }
    return e;
  }

  private int arrayLength(Entry e) {
    if (e.numel > Integer.MAX_VALUE - 8) {
      throw new WeftInputException("Tensor '" + e.name + "' in " + path + " has " + e.numel
          + " elements, more than one Java array can hold (2^31). Split it into smaller tensors.");
    }
    return (int) e.numel;
  }

  @Override
  public void close() {
    arena.close();
  }

  @Override
  public String toString() {
    return "SafeTensorsFile[" + path + ", " + entries.size() + " tensors]";
  }
}
