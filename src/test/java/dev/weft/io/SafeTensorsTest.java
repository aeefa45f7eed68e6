package dev.weft.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path dir;

  private static int[] randomShape(Random rnd) {
    int rank = rnd.nextInt(4);
    int[] s = new int[rank];
    for (int i = 0; i < rank; i++) s[i] = rnd.nextInt(6) == 0 ? 0 : 1 + rnd.nextInt(7);
    return s;
  }

  private static int numel(int[] shape) {
    int n = 1;
    for (int d : shape) n *= d;
    return n;
  }

  @Test
  void randomF32AndI32TensorsRoundTripWithShapesScalarsEmptiesAndMetadata() {
    Random rnd = new Random(7);
    for (int trial = 0; trial < 20; trial++) {
      SafeTensorsWriter w = new SafeTensorsWriter();
      Map<String, float[]> floats = new LinkedHashMap<>();
      Map<String, int[]> ints = new LinkedHashMap<>();
      Map<String, int[]> shapes = new LinkedHashMap<>();
      int count = rnd.nextInt(8);
      for (int t = 0; t < count; t++) {
        int[] shape = randomShape(rnd);
        String name = "h." + t + (rnd.nextBoolean() ? ".mlp.c_fc.weight" : ".tokens");
        shapes.put(name, shape);
        if (rnd.nextBoolean()) {
          float[] a = new float[numel(shape)];
          for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
          floats.put(name, a);
          w.add(name, a, shape);
        } else {
          int[] a = rnd.ints(numel(shape)).toArray();
          ints.put(name, a);
          w.addInts(name, a, shape);
        }
      }
      w.add("loss", new float[] {2.5f}); // a 0-d scalar
      w.metadata("format", "pt").metadata("step", String.valueOf(trial));
      Path f = dir.resolve("t" + trial + ".safetensors");
      w.write(f);

      try (SafeTensorsFile r = SafeTensorsFile.open(f)) {
        assertThat(r.names()).hasSize(count + 1);
        assertThat(r.metadata()).containsEntry("format", "pt").containsEntry("step", String.valueOf(trial));
        assertThat(r.shape("loss")).isEmpty();
        assertThat(r.floats("loss")).containsExactly(2.5f);
        floats.forEach((n, a) -> {
          assertThat(r.dtype(n)).isEqualTo(DType.F32);
          assertThat(r.shape(n)).containsExactly(shapes.get(n));
          assertThat(r.floats(n)).containsExactly(a);
        });
        ints.forEach((n, a) -> {
          assertThat(r.dtype(n)).isEqualTo(DType.I32);
          assertThat(r.shape(n)).containsExactly(shapes.get(n));
          assertThat(r.ints(n)).containsExactly(a);
        });
      }
    }
  }

  @Test
  void headerIsSpacePaddedToEightBytesWithMetadataFirstAndTensorsInNameOrder() throws IOException {
    Path f = dir.resolve("a.safetensors");
    new SafeTensorsWriter().add("wte.weight", new float[6], 2, 3).addInts("tokens", new int[3], 3)
        .add("b", new float[1], 1).metadata("k", "v").write(f);
    byte[] bytes = Files.readAllBytes(f);
    long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    assertThat(n % 8).isZero();
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertThat(header).startsWith("{\"__metadata__\":{\"k\":\"v\"}");
    assertThat(header.indexOf("\"b\"")).isLessThan(header.indexOf("\"tokens\""));
    assertThat(header.indexOf("\"tokens\"")).isLessThan(header.indexOf("\"wte.weight\""));
    assertThat(header.stripTrailing()).endsWith("}");
    assertThat(bytes.length - 8 - n).isEqualTo(4 * (6 + 3 + 1));
  }

  @Test
  void theSameTensorsGiveTheSameBytesWhateverTheOrderTheyWereAdded() throws IOException {
    float[] a = {1, 2, 3};
    int[] b = {4, 5};
    Path f1 = dir.resolve("1.safetensors");
    Path f2 = dir.resolve("2.safetensors");
    new SafeTensorsWriter().add("a", a, 3).addInts("b", b, 2).write(f1);
    new SafeTensorsWriter().addInts("b", b, 2).add("a", a, 3).write(f2);
    assertThat(Files.readAllBytes(f1)).isEqualTo(Files.readAllBytes(f2));
  }

  /** Builds a file by hand: header JSON and raw data, with the header padded as {@code pad} says. */
  static byte[] handMade(String headerJson, byte[] data) {
    byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    return b.array();
  }

  @Test
  void readsHandWrittenF16Bf16F64AndI64Tensors() throws IOException {
    ByteBuffer d = ByteBuffer.allocate(2 * 3 + 2 * 3 + 8 * 2 + 8 * 3).order(ByteOrder.LITTLE_ENDIAN);
    float[] halfs = {1.5f, -2.0f, 0.099975586f}; // exactly representable in F16
    for (float x : halfs) d.putShort(Float.floatToFloat16(x));
    float[] bf = {1.0f, -3.5f, 256.0f}; // exactly representable in BF16
    for (float x : bf) d.putShort((short) (Float.floatToRawIntBits(x) >>> 16));
    d.putDouble(0.25).putDouble(-1e10);
    d.putLong(7).putLong(-3).putLong(Integer.MAX_VALUE);
    String header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
        + "\"bf\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[6,12]},"
        + "\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[12,28]},"
        + "\"tokens\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[28,52]}}"; // unaligned on purpose
    Path f = dir.resolve("hand.safetensors");
    Files.write(f, handMade(header, d.array()));
    try (SafeTensorsFile r = SafeTensorsFile.open(f)) {
      assertThat(r.names()).containsExactly("h", "bf", "d", "tokens");
      assertThat(r.floats("h")).containsExactly(halfs);
      assertThat(r.floats("bf")).containsExactly(bf);
      assertThat(r.floats("d")).containsExactly(0.25f, -1e10f);
      assertThat(r.ints("tokens")).containsExactly(7, -3, Integer.MAX_VALUE);
      assertThat(r.dtype("tokens")).isEqualTo(DType.I64);
      assertThatThrownBy(() -> r.ints("h")).isInstanceOf(WeftInputException.class).hasMessageContaining("F16");
      assertThatThrownBy(() -> r.floats("tokens")).isInstanceOf(WeftInputException.class);
      assertThatThrownBy(() -> r.floats("missing")).isInstanceOf(WeftInputException.class)
          .hasMessageContaining("no tensor named 'missing'");
    }
  }

  @Test
  void i64ValuesOutsideIntRangeAreRejectedNamingTheTensor() throws IOException {
    ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1).putLong(1L << 40);
    Path f = dir.resolve("big.safetensors");
    Files.write(f, handMade("{\"tokens\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", d.array()));
    try (SafeTensorsFile r = SafeTensorsFile.open(f)) {
      assertThatThrownBy(() -> r.ints("tokens")).isInstanceOf(WeftInputException.class)
          .hasMessageContaining("tokens").hasMessageContaining(String.valueOf(1L << 40));
    }
  }

  private Path validFile() {
    Random rnd = new Random(3);
    float[] a = new float[50];
    for (int i = 0; i < a.length; i++) a[i] = rnd.nextFloat();
    Path f = dir.resolve("valid.safetensors");
    new SafeTensorsWriter().add("wte.weight", a, 5, 10).addInts("tokens", new int[] {1, 2, 3}, 3)
        .metadata("format", "pt").write(f);
    return f;
  }

  @Test
  void aFileTruncatedAnywhereIsRejectedWithAClearMessage() throws IOException {
    byte[] full = Files.readAllBytes(validFile());
    Random rnd = new Random(11);
    Path f = dir.resolve("cut.safetensors");
    for (int trial = 0; trial < 200; trial++) {
      int len = trial < full.length ? trial : rnd.nextInt(full.length);
      Files.write(f, Arrays.copyOf(full, len));
      assertThatThrownBy(() -> SafeTensorsFile.open(f).close())
          .as("truncated to %d of %d bytes", len, full.length)
          .isInstanceOf(WeftInputException.class)
          .hasMessageContaining(f.toString())
          .hasMessageContaining("truncated or corrupt");
    }
  }

  private void assertRejected(String header, byte[] data, String problem) throws IOException {
    Path f = dir.resolve("bad.safetensors");
    Files.write(f, handMade(header, data));
    assertThatThrownBy(() -> SafeTensorsFile.open(f).close()).isInstanceOf(WeftInputException.class)
        .hasMessageContaining(f.toString()).hasMessageContaining(problem);
  }

  @Test
  void malformedHeadersAreRejectedNamingTheProblem() throws IOException {
    byte[] d16 = new byte[16];
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", d16, "not valid JSON");
    assertRejected("[1,2]", d16, "not a JSON object");
    assertRejected("{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", d16, "no \"dtype\"");
    assertRejected("{\"a\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}", d16, "unknown dtype \"F33\"");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", d16, "no \"shape\"");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", d16, "dimension 0");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", d16, "no \"data_offsets\"");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,32]}}", d16, "only 16 data bytes");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", d16, "begin after end");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", d16, "need 12 bytes");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", d16, "overlap");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", d16, "appears twice");
    assertRejected("{\"__metadata__\":{\"step\":3}}", d16, "not a string");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", d16,
        "dimension 0");
    assertRejected("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],"
        + "\"data_offsets\":[0,16]}}", d16, "more than 2^63");
  }

  @Test
  void aBadLengthFieldIsRejectedWithoutAllocatingIt() throws IOException {
    Path f = dir.resolve("len.safetensors");
    Files.write(f, new byte[] {1, 2, 3});
    assertThatThrownBy(() -> SafeTensorsFile.open(f)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("only 3 bytes");
    for (long n : new long[] {-1L, Long.MAX_VALUE, 1L << 40, 200L << 20}) {
      Files.write(f, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array());
      assertThatThrownBy(() -> SafeTensorsFile.open(f)).isInstanceOf(WeftInputException.class)
          .hasMessageContaining(Long.toUnsignedString(n)).hasMessageContaining("header length");
    }
    Files.write(f, ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array());
    assertThatThrownBy(() -> SafeTensorsFile.open(f)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("claims 1000 bytes");
  }

  @Test
  void randomByteFlipsInTheHeaderGiveEitherAValidFileOrAWeftInputException() throws IOException {
    byte[] full = Files.readAllBytes(validFile());
    long n = ByteBuffer.wrap(full).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    Random rnd = new Random(5);
    Path f = dir.resolve("flip.safetensors");
    for (int trial = 0; trial < 300; trial++) {
      byte[] b = full.clone();
      int flips = 1 + rnd.nextInt(3);
      for (int k = 0; k < flips; k++) b[8 + rnd.nextInt((int) n)] = (byte) rnd.nextInt(256);
      Files.write(f, b);
      try (SafeTensorsFile r = SafeTensorsFile.open(f)) {
        for (String name : r.names()) {
          try {
            r.floats(name);
          } catch (WeftInputException expected) {
            // wrong dtype for floats(): fine
          }
        }
      } catch (WeftInputException expected) {
        assertThat(expected.getMessage()).contains(f.toString());
      }
    }
  }

  @Test
  void openingSomethingThatIsNotAFileSaysSo() {
    assertThatThrownBy(() -> SafeTensorsFile.open(dir.resolve("nope.safetensors")))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("does not exist");
    assertThatThrownBy(() -> SafeTensorsFile.open(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("is a folder");
  }

  @Test
  void aLargeFileStreamsOutAndMapsBackQuickly() {
    float[] big = new float[16 << 20]; // 64 MB
    for (int i = 0; i < big.length; i++) big[i] = i * 0.5f;
    Path f = dir.resolve("big.safetensors");
    long t0 = System.nanoTime();
    new SafeTensorsWriter().add("w", big, 4096, 4096).write(f);
    long t1 = System.nanoTime();
    float[] back;
    try (SafeTensorsFile r = SafeTensorsFile.open(f)) {
      back = r.floats("w");
    }
    long t2 = System.nanoTime();
    assertThat(back).isEqualTo(big);
    // Generous bounds for a busy 2-core machine; a byte-at-a-time path would take tens of seconds.
    assertThat((t1 - t0) / 1e9).as("write seconds").isLessThan(10);
    assertThat((t2 - t1) / 1e9).as("read seconds").isLessThan(5);
  }
}
