package dev.weft.kernels;

/**
 * How a oneDNN matrix multiply uses the caller's device threads ({@link Compute#threads()}): every call
 * runs on exactly that many threads, whatever other devices of the same process are doing at the time.
 *
 * <ul>
 * <li>{@link #OPENMP} (the default): the calling thread sets its own OpenMP thread count to the device's
 *     ({@code omp_set_num_threads} is per thread in libgomp) and makes one call; oneDNN partitions the
 *     work over an OpenMP team that libgomp keeps for that calling thread, so devices calling at the same
 *     time get separate teams and neither waits for the other. While the call runs the device's own
 *     {@link Compute} workers are idle, so the device still has {@code threads} busy threads. The team's
 *     threads spin briefly after a call before they sleep (libgomp's {@code OMP_WAIT_POLICY} /
 *     {@code GOMP_SPINCOUNT} environment variables govern this).
 * <li>{@link #SPLIT}: C is cut into one rectangle per device thread ({@link GemmShape#split}), and each of
 *     the device's own threads multiplies its rectangle with a single-threaded oneDNN call: no OpenMP
 *     threads at all, but each thread packs its own copy of the operand that is not cut, and oneDNN cannot
 *     choose its own partition (e.g. cutting k in the weight gradient).
 * </ul>
 * Measured with fp32 {@code dnnl_sgemm} on 2 threads of a 2-core AVX2 machine (d=384 model shapes,
 * interleaved, median speed ratio split/OpenMP): forward NN 1.18 (columns cut) or 0.90 (rows cut), input
 * gradient NT 0.95-1.02, weight gradient TN 0.63-0.71; hence OpenMP by default.
 * {@code weft bench gemm --impl vector,onednn,onednn-split} measures them side by side.
 */
public enum OneDnnThreading {
  OPENMP, SPLIT;

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
