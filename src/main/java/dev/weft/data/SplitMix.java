package dev.weft.data;

/**
 * SplitMix64 (Steele, Lea and Flood, 2014), written out here so that Weft's data order never depends on
 * a JDK's choice of random generator: {@link #mix64} is a fixed bijection of 64-bit values, and an
 * instance is the plain generator {@code state += golden; return mix64(state)}.
 */
final class SplitMix {
  static final long GOLDEN = 0x9E3779B97F4A7C15L;

  private long state;

  SplitMix(long seed) {
    this.state = seed;
  }

  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  long nextLong() {
    state += GOLDEN;
    return mix64(state);
  }

  /** Uniform in [0, bound) for 0 < bound; the bias of the remainder is below bound / 2^64. */
  int nextInt(int bound) {
    return (int) Long.remainderUnsigned(nextLong(), bound);
  }

  /** One element of {@code options}, uniformly. */
  <T> T pick(T[] options) {
    return options[nextInt(options.length)];
  }
}
