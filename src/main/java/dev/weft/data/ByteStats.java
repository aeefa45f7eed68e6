package dev.weft.data;

import java.util.Locale;

/**
 * What the bytes of a training text look like, to tell text from binary data: the share of printable
 * ASCII (0x20-0x7E, tab, newline, carriage return), the share of bytes that are part of well-formed UTF-8
 * (Unicode's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF), the share of control
 * bytes (C0 controls other than tab, newline, form feed and carriage return, and DEL; NUL among them), and
 * how many of the 256 byte values occur. Source code and prose in any script are almost all well-formed
 * UTF-8 with almost no control bytes; random or compressed bytes are about 40% "valid" (the ASCII half,
 * a few multi-byte runs by chance), 12% control, and use all 256 values.
 *
 * @param bytes          how many bytes were looked at
 * @param printableAscii share of printable ASCII and ordinary whitespace, in [0, 1]
 * @param validUtf8      share of bytes inside well-formed UTF-8 sequences (ASCII included), in [0, 1]
 * @param control        share of control bytes, in [0, 1]
 * @param distinct       byte values that occur, 0-256
 */
public record ByteStats(long bytes, double printableAscii, double validUtf8, double control, int distinct) {
  /** Below this share of text-like bytes (valid UTF-8 and not control) a corpus does not look like text. */
  public static final double TEXT_SHARE = 0.9;

  /** The statistics of {@code b}. */
  public static ByteStats of(byte[] b) {
    return of(b, 0, b.length);
  }

  /** The statistics of {@code b[off, off + len)}. */
  public static ByteStats of(byte[] b, int off, int len) {
    long printable = 0, control = 0, valid = 0;
    boolean[] seen = new boolean[256];
    int end = off + len;
    for (int i = off; i < end; i++) {
      int c = b[i] & 0xFF;
      seen[c] = true;
      if ((c >= 0x20 && c < 0x7F) || c == '\t' || c == '\n' || c == '\r') printable++;
      else if (c < 0x20 && c != '\f' || c == 0x7F) control++;
    }
    for (int i = off; i < end; ) {
      int n = wellFormedLength(b, i, end);
      if (n > 0) {
        valid += n;
        i += n;
      } else {
        i++;
      }
    }
    int distinct = 0;
    for (boolean s : seen) if (s) distinct++;
    double d = Math.max(1, len);
    return new ByteStats(len, printable / d, valid / d, control / d, distinct);
  }

  /** Length of the well-formed UTF-8 sequence at {@code b[i]}, or 0 when none starts there. */
  private static int wellFormedLength(byte[] b, int i, int end) {
    int c = b[i] & 0xFF;
    if (c < 0x80) return 1;
    int n;
    int lo = 0x80, hi = 0xBF; // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return 0;
    }
    if (i + n > end) return 0;
    int second = b[i + 1] & 0xFF;
    if (second < lo || second > hi) return 0;
    for (int k = 2; k < n; k++) {
      int cc = b[i + k] & 0xFF;
      if (cc < 0x80 || cc > 0xBF) return 0;
    }
    return n;
  }

  /** Share of bytes that read as text: inside well-formed UTF-8 and not control bytes. */
  public double textShare() {
    return Math.max(0, validUtf8 - control);
  }

  /** True when at least {@link #TEXT_SHARE} of the bytes read as text. */
  public boolean looksLikeText() {
    return textShare() >= TEXT_SHARE;
  }

  /** "1,000 bytes: 37.1% printable ASCII, 45.0% valid UTF-8, 12.3% control bytes, 256 distinct byte values". */
  public String describe() {
    return String.format(Locale.ROOT, "%,d byte%s: %.1f%% printable ASCII, %.1f%% valid UTF-8, %.1f%% control bytes, "
        + "%d distinct byte value%s", bytes, bytes == 1 ? "" : "s", 100 * printableAscii, 100 * validUtf8,
        100 * control, distinct, distinct == 1 ? "" : "s");
  }
}
