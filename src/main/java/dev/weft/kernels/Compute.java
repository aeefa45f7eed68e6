package dev.weft.kernels;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The compute resources of one device: a fixed number of compute threads (pinned per device so that
 * ranks sharing a machine do not oversubscribe it) and the matrix-multiply implementation to use.
 * Kernels receive it explicitly; there is no global pool.
 */
public final class Compute implements AutoCloseable {
  /** Body of a parallel loop over the index range [from, to). */
  @FunctionalInterface
  public interface RangeBody {
    void run(int from, int to);
  }

  private final int threads;
  private final Gemm gemm;
  private final ExecutorService workers;
  private final Compute serial;

  public Compute(int threads, Gemm gemm) {
    if (threads < 1) throw new IllegalArgumentException("compute threads must be >= 1, got " + threads);
    this.threads = threads;
    this.gemm = gemm;
    this.workers = threads == 1 ? null : Executors.newFixedThreadPool(threads - 1, r -> {
      Thread t = new Thread(r, "weft-compute");
      t.setDaemon(true);
      return t;
    });
    this.serial = threads == 1 ? this : new Compute(1, gemm);
  }

  /** One thread, the default matrix multiply. */
  public static Compute single() {
    return new Compute(1, Gemm.defaultGemm());
  }

  public int threads() { return threads; }
  public Gemm gemmImpl() { return gemm; }

  /**
   * C = op(A) op(B) + beta C, row-major, BLAS conventions: op(A) is m x k, op(B) is k x n, C is m x n;
   * {@code transA} means A is stored k x m (lda >= m), otherwise m x k (lda >= k); likewise for B.
   */
  public void gemm(boolean transA, boolean transB, int m, int n, int k,
                   float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                   float beta, float[] c, int cOff, int ldc) {
    gemm.gemm(this, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
  }

  /**
   * Runs {@code body} over [0, n) split into chunks of at least {@code grain} indices, on this device's
   * threads (the caller is one of them). Returns when every chunk is done; rethrows the first failure.
   * Safe to call from inside a chunk (nested calls never wait on a task that has not started), but
   * kernels should prefer {@link #serial()} inside their chunks.
   */
  public void parallelFor(int n, int grain, RangeBody body) {
    if (n <= 0) return;
    int g = Math.max(1, grain);
    int chunks = Math.min((n + g - 1) / g, threads * 4);
    if (threads == 1 || chunks <= 1) {
      body.run(0, n);
      return;
    }
    int chunkSize = (n + chunks - 1) / chunks;
    int realChunks = (n + chunkSize - 1) / chunkSize;
    AtomicInteger next = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(realChunks);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable drain = () -> {
      int c;
      while ((c = next.getAndIncrement()) < realChunks) {
        try {
          if (failure.get() == null) {
            int from = c * chunkSize;
            body.run(from, Math.min(n, from + chunkSize));
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.countDown();
        }
      }
    };
    int helpers = Math.min(threads - 1, realChunks - 1);
    for (int i = 0; i < helpers; i++) workers.execute(drain);
    drain.run();
    try {
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      failure.compareAndSet(null, e);
    }
    Throwable f = failure.get();
    if (f instanceof RuntimeException re) throw re;
    if (f instanceof Error err) throw err;
    if (f != null) throw new RuntimeException(f);
  }

  /** A one-thread view of this device with the same matrix multiply, for use inside parallel chunks. */
  public Compute serial() {
    return serial;
  }

  @Override
  public void close() {
    if (workers != null) workers.shutdownNow();
  }
}
