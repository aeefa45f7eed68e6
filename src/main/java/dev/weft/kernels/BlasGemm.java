package dev.weft.kernels;

import static org.bytedeco.openblas.global.openblas_full.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_full.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_full.CblasTrans;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_full;

/**
 * OpenBLAS's {@code cblas_sgemm} (through JavaCPP) behind the {@link Gemm} interface: the reference for
 * benchmarks and an optional backend, never needed by the default path. Same math and row-major
 * conventions: {@code C[m,n] = op(A)[m,k] op(B)[k,n] + beta C}.
 *
 * <p>Data path: Java heap arrays cannot be handed to native code without a copy (JNI's
 * Get*ArrayElements copies the whole array on HotSpot, which is ruinous when A is a slice of a large
 * parameter array), so the touched regions of A, B and C are copied into reusable native buffers, and C's
 * region is copied back. C is not copied in when beta = 0 and its rows are contiguous. The
 * {@code float[]}-overload variant ({@link DataPath#ARRAYS}) exists for measurement only.
 *
 * <p>The bindings used are JavaCPP's {@code openblas_full} class: in this preset version it is the one
 * that exposes {@code openblas_set_num_threads}; it links the same {@code libopenblas}.
 *
 * <p>Limitation: OpenBLAS's thread count is process-global ({@code openblas_set_num_threads}). To use
 * exactly {@code cx.threads()} threads, every call takes a process-wide lock, sets the thread count if it
 * differs from the last call's, and runs; so calls from different devices in one process are serialised,
 * and OpenBLAS's own threads are not the device's Compute threads (they are not pinned per device).
 */
public final class BlasGemm implements Gemm {
  /** How operands reach the native library. */
  public enum DataPath { NATIVE_COPY, ARRAYS }

  private static final Object LOCK = new Object();
  private static volatile boolean loaded;
  private static int currentThreads = -1;
  private static FloatPointer bufA, bufB, bufC;

  private final DataPath path;

  public BlasGemm() {
    this(DataPath.NATIVE_COPY);
  }

  public BlasGemm(DataPath path) {
    ensureLoaded();
    this.path = path;
  }

  /** Loads the native library, or throws an {@link IllegalStateException} that says it could not. */
  public static void ensureLoaded() {
    if (loaded) return;
    synchronized (LOCK) {
      if (loaded) return;
      try {
        Loader.load(openblas_full.class);
        loaded = true;
      } catch (Throwable t) {
        throw new IllegalStateException("The OpenBLAS native library (org.bytedeco:openblas, platform "
            + Loader.getPlatform() + ") could not be loaded, so the \"openblas\" GEMM is unavailable; use the "
            + "default \"vector\" GEMM instead. Cause: " + t, t);
      }
    }
  }

  @Override
  public String name() {
    return "openblas";
  }

  @Override
  public void gemm(Compute cx, boolean transA, boolean transB, int m, int n, int k,
                   float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                   float beta, float[] c, int cOff, int ldc) {
    if (m <= 0 || n <= 0) return;
    int ta = transA ? CblasTrans : CblasNoTrans;
    int tb = transB ? CblasTrans : CblasNoTrans;
    // Extent of each operand in its array: rows x cols as stored.
    long aLen = k == 0 ? 0 : span(transA ? k : m, transA ? m : k, lda);
    long bLen = k == 0 ? 0 : span(transB ? n : k, transB ? k : n, ldb);
    int cLen = (int) span(m, n, ldc);
    synchronized (LOCK) {
      setThreads(cx.threads());
      if (path == DataPath.ARRAYS) {
        if (aOff == 0 && bOff == 0 && cOff == 0) {
          openblas_full.cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1f, a, lda, b, ldb, beta, c, ldc);
        } else {
          FloatBuffer fa = FloatBuffer.wrap(a, aOff, (int) aLen);
          FloatBuffer fb = FloatBuffer.wrap(b, bOff, (int) bLen);
          FloatBuffer fc = FloatBuffer.wrap(c, cOff, cLen);
          openblas_full.cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1f, fa, lda, fb, ldb, beta, fc, ldc);
        }
        return;
      }
      bufA = ensure(bufA, Math.max(1, aLen));
      bufB = ensure(bufB, Math.max(1, bLen));
      bufC = ensure(bufC, cLen);
      if (aLen > 0) bufA.position(0).put(a, aOff, (int) aLen);
      if (bLen > 0) bufB.position(0).put(b, bOff, (int) bLen);
      boolean contiguous = ldc == n;
      if (beta != 0f || !contiguous) bufC.position(0).put(c, cOff, cLen);
      openblas_full.cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1f, bufA.position(0), lda, bufB.position(0), ldb,
          beta, bufC.position(0), ldc);
      if (contiguous) {
        bufC.position(0).get(c, cOff, cLen);
      } else {
        for (int i = 0; i < m; i++) bufC.position((long) i * ldc).get(c, cOff + i * ldc, n);
      }
      bufC.position(0);
    }
  }

  /**
   * Throughput of OpenBLAS itself, with operands already in native memory (no copies): runs
   * {@code reps} timed NN/NT/TN calls after one warm-up and returns the median seconds per call.
   */
  public static double medianNativeSeconds(int threads, boolean transA, boolean transB, int m, int n, int k,
                                           float beta, int reps) {
    ensureLoaded();
    synchronized (LOCK) {
      setThreads(threads);
      int lda = transA ? m : k, ldb = transB ? k : n;
      try (FloatPointer pa = new FloatPointer((long) m * k);
           FloatPointer pb = new FloatPointer((long) k * n);
           FloatPointer pc = new FloatPointer((long) m * n)) {
        java.util.Random rnd = new java.util.Random(1);
        for (long i = 0; i < (long) m * k; i++) pa.put(i, rnd.nextFloat() - 0.5f);
        for (long i = 0; i < (long) k * n; i++) pb.put(i, rnd.nextFloat() - 0.5f);
        for (long i = 0; i < (long) m * n; i++) pc.put(i, 0f);
        int ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans;
        openblas_full.cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1f, pa, lda, pb, ldb, beta, pc, n);
        double[] t = new double[reps];
        for (int r = 0; r < reps; r++) {
          long t0 = System.nanoTime();
          openblas_full.cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1f, pa, lda, pb, ldb, beta, pc, n);
          t[r] = (System.nanoTime() - t0) * 1e-9;
        }
        java.util.Arrays.sort(t);
        return t[reps / 2];
      }
    }
  }

  /**
   * The CPU kernel set OpenBLAS selected (e.g. "Haswell", "SkylakeX"). Its runtime detection may not know
   * a new CPU and fall back to an older kernel set; the environment variable OPENBLAS_CORETYPE (read when
   * the library loads) overrides the choice.
   */
  public static String coreName() {
    ensureLoaded();
    return openblas_full.openblas_get_corename().getString();
  }

  /** OpenBLAS's current (process-global) thread count. */
  public static int nativeThreads() {
    ensureLoaded();
    return openblas_full.openblas_get_num_threads();
  }

  private static void setThreads(int threads) {
    if (threads != currentThreads) {
      openblas_full.openblas_set_num_threads(threads);
      currentThreads = threads;
    }
  }

  private static long span(int rows, int cols, int ld) {
    return rows == 0 || cols == 0 ? 0 : (long) (rows - 1) * ld + cols;
  }

  private static FloatPointer ensure(FloatPointer p, long size) {
    if (p != null && p.capacity() >= size) return p;
    if (p != null) p.close();
    return new FloatPointer(size);
  }
}
