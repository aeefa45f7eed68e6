package dev.weft.io;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Collects tensors and writes them as one safetensors file (byte layout in {@link SafeTensorsFile}).
 * As in the Hugging Face implementation, the JSON header is padded with spaces to a multiple of 8 bytes
 * so every tensor starts 8-byte aligned, {@code __metadata__} comes first, and the data is ordered by
 * dtype size (largest first) and then by name, so the same tensors always give the same bytes.
 * {@link #write} streams the data through a 1 MB buffer and is atomic ({@link AtomicFiles}).
 * The arrays given to {@code add} are not copied: leave them unchanged until {@code write} returns.
 */
public final class SafeTensorsWriter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CHUNK_BYTES = 1 << 20;

  private record Pending(String name, DType dtype, int[] shape, float[] floats, int[] ints) {
    long bytes() {
      return (long) (floats != null ? floats.length : ints.length) * dtype.bytes();
    }
  }

  private final List<Pending> tensors = new ArrayList<>();
  private final Set<String> names = new HashSet<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  /** Adds an F32 tensor; {@code shape} may be empty (a scalar) or contain zeros (an empty tensor). */
  public SafeTensorsWriter add(String name, float[] data, int... shape) {
    checkShape(name, data.length, shape);
    tensors.add(new Pending(name, DType.F32, shape.clone(), data, null));
    return this;
  }

  /** Adds an I32 tensor. */
  public SafeTensorsWriter addInts(String name, int[] data, int... shape) {
    checkShape(name, data.length, shape);
    tensors.add(new Pending(name, DType.I32, shape.clone(), null, data));
    return this;
  }

  /** Adds a {@code __metadata__} entry (later values for the same key replace earlier ones). */
  public SafeTensorsWriter metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  private void checkShape(String name, int length, int[] shape) {
    if (name == null || name.isEmpty() || name.equals("__metadata__")) {
      throw new IllegalArgumentException("invalid tensor name '" + name + "'");
    }
    long numel = 1; // stops growing once past length, so it cannot overflow
    boolean empty = false;
    for (int d : shape) {
      if (d < 0) throw new IllegalArgumentException(name + ": negative dimension in " + Arrays.toString(shape));
      if (d == 0) empty = true;
      else if (numel <= length) numel *= d;
    }
    if (empty) numel = 0;
    if (numel != length) {
      throw new IllegalArgumentException(name + ": " + length + " values for shape " + Arrays.toString(shape));
    }
    if (!names.add(name)) throw new IllegalArgumentException("tensor '" + name + "' added twice");
  }

  /** Writes the file atomically: a crash or an error leaves either the old file or none, never a partial one. */
  public void write(Path path) {
    List<Pending> order = new ArrayList<>(tensors);
    order.sort(Comparator.comparingInt((Pending p) -> -p.dtype.bytes()).thenComparing(Pending::name));
    byte[] header = header(order);
    AtomicFiles.writeChannel(path, ch -> {
      ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      buf.putLong(header.length).flip();
      drain(ch, buf);
      drain(ch, ByteBuffer.wrap(header));
      for (Pending p : order) {
        if (p.floats != null) writeFloats(ch, buf, p.floats);
        else writeInts(ch, buf, p.ints);
      }
    });
  }

  private byte[] header(List<Pending> order) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (JsonGenerator g = JSON.createGenerator(out)) {
      g.writeStartObject();
      if (!metadata.isEmpty()) {
        g.writeObjectFieldStart("__metadata__");
        for (Map.Entry<String, String> e : metadata.entrySet()) g.writeStringField(e.getKey(), e.getValue());
        g.writeEndObject();
      }
      long offset = 0;
      for (Pending p : order) {
        g.writeObjectFieldStart(p.name);
        g.writeStringField("dtype", p.dtype.name());
        g.writeArrayFieldStart("shape");
        for (int d : p.shape) g.writeNumber(d);
        g.writeEndArray();
        g.writeArrayFieldStart("data_offsets");
        g.writeNumber(offset);
        g.writeNumber(offset + p.bytes());
        g.writeEndArray();
        g.writeEndObject();
        offset += p.bytes();
      }
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // writing to memory cannot fail
    }
    int pad = (8 - out.size() % 8) % 8;
    for (int i = 0; i < pad; i++) out.write(' ');
    return out.toByteArray();
  }

  private static void writeFloats(FileChannel ch, ByteBuffer buf, float[] a) throws IOException {
    int per = CHUNK_BYTES / Float.BYTES;
    for (int off = 0; off < a.length; off += per) {
      int n = Math.min(per, a.length - off);
      buf.clear();
      buf.asFloatBuffer().put(a, off, n);
      buf.limit(n * Float.BYTES);
      drain(ch, buf);
    }
  }

  private static void writeInts(FileChannel ch, ByteBuffer buf, int[] a) throws IOException {
    int per = CHUNK_BYTES / Integer.BYTES;
    for (int off = 0; off < a.length; off += per) {
      int n = Math.min(per, a.length - off);
      buf.clear();
      buf.asIntBuffer().put(a, off, n);
      buf.limit(n * Integer.BYTES);
      drain(ch, buf);
    }
  }

  private static void drain(FileChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) ch.write(buf);
  }
}
