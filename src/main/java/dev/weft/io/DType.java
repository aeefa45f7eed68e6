package dev.weft.io;

/**
 * The element types a safetensors header may name, with their size in bytes. The names are exactly the
 * strings of the Hugging Face format ({@code "F32"}, {@code "BF16"}, ...). Weft reads the float types into
 * {@code float[]} and the integer types into {@code int[]}; the others (FP8) can be listed but not read.
 */
public enum DType {
  BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1),
  I16(2), U16(2), F16(2), BF16(2),
  I32(4), U32(4), F32(4),
  I64(8), U64(8), F64(8);

  private final int bytes;

  DType(int bytes) {
    this.bytes = bytes;
  }

  /** Size of one element in bytes. */
  public int bytes() {
    return bytes;
  }

  /** The dtype for a header string, or null if the string names none. */
  static DType parse(String s) {
    for (DType d : values()) {
      if (d.name().equals(s)) return d;
    }
    return null;
  }

  static String allNames() {
    StringBuilder sb = new StringBuilder();
    for (DType d : values()) {
      if (sb.length() > 0) sb.append(", ");
      sb.append(d.name());
    }
    return sb.toString();
  }
}
