package dev.weft.kernels;

/**
 * How a oneDNN matrix multiply uses the caller's device threads ({@link Compute#threads()}): every call
 * runs on exactly that many threads, whatever other devices of the same process are doing at the time.
 *
 * <ul>
 * <li>{@link #SPLIT} (the default): C is cut into one rectangle per device thread
 *     ({@link GemmShape#split}), and each of the device's own threads multiplies its rectangle with a
 *     single-threaded oneDNN call. No OpenMP threads are started, so nothing spins after a call, and the
 *     device's threads stay the only ones working for it. The cost: each thread packs its own copy of the
 *     operand that is not cut.
 * <li>{@link #OPENMP}: the calling thread sets its OpenMP thread count to the device's and makes one call;
 *     oneDNN splits the work over an OpenMP team that libgomp keeps per calling thread (the team's
 *     threads spin for a while after each call, then sleep).
 * </ul>
 * {@code weft bench gemm --bf16 onednn,onednn-omp} measures the two side by side.
 */
public enum OneDnnThreading {
  SPLIT, OPENMP;

  /** Products smaller than this (m n k) run on one thread: cutting them costs more than it saves. */
  static final long SPLIT_MIN_VOLUME = 1L << 18;
  /** Cuts of C fall on multiples of this many rows or columns (a 64-byte line of floats). */
  static final int ALIGN = 16;

  /** One oneDNN call on a rectangle of C, run by one thread. */
  @FunctionalInterface
  interface PartCall {
    void run(GemmShape.Part part);
  }

  /** Runs {@code call} over C (m x n, inner dimension k) on the device's threads, as this mode says. */
  void run(Compute cx, int m, int n, int k, PartCall call) {
    int threads = cx.threads();
    if (this == OPENMP || threads == 1 || (long) m * n * k < SPLIT_MIN_VOLUME) {
      OneDnn.setCallerThreads(this == OPENMP ? threads : 1);
      call.run(new GemmShape.Part(0, m, 0, n));
      return;
    }
    GemmShape.Part[] parts = GemmShape.split(m, n, threads, ALIGN);
    cx.parallelFor(parts.length, 1, (from, to) -> {
      OneDnn.setCallerThreads(1);
      for (int p = from; p < to; p++) call.run(parts[p]);
    });
  }
}
