package dev.weft.bench;

import dev.weft.WeftInputException;
import dev.weft.kernels.BlasGemm;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench gemm}: measures single-precision matrix-multiply throughput, GFLOP/s = 2 m n k / time
 * (median of timed repetitions after warm-up), for the GEMM implementations on the three GPT-2 (d=768)
 * linear-layer shapes with 2048 tokens: forward {@code Y = X W} (NN, m=2048, k=768, n=3072), input
 * gradient {@code dX = dY W^T} (NT, m=2048, n=768, k=3072) and weight gradient {@code dW += X^T dY}
 * (TN, m=768, n=3072, k=2048, beta=1). Prints a table and, per shape, the ratio vector/openblas against
 * the 85% target. {@link #measureGflops} is the reusable figure of "this machine's measured fp32 matmul
 * throughput" (e.g. for MFU).
 *
 * <p>Reading the figures: implementations are interleaved in short blocks so that load from other
 * processes hits them alike, with a pause at each switch (OpenBLAS's threads spin for a while after a call
 * and would otherwise slow whatever runs next); "openblas" is {@link BlasGemm} as Weft calls it (including the copies between Java
 * arrays and native memory), "openblas-native" is the library alone on native buffers. OpenBLAS picks its
 * kernels per CPU unless the environment variable OPENBLAS_CORETYPE forces a set (the header line says
 * which); a forced older set (e.g. Haswell, AVX2, on an AVX-512 machine) halves its throughput.
 */
@Command(name = "gemm", mixinStandardHelpOptions = true,
    description = "Measure fp32 GEMM throughput (GFLOP/s) of the vector, openblas and scalar kernels on the "
        + "GPT-2 linear-layer shapes (forward NN, input-gradient NT, weight-gradient TN), and the ratio "
        + "vector/openblas per shape.")
public final class GemmBenchCommand implements Callable<Integer> {
  /** Target fraction of OpenBLAS's throughput for the pure-Java kernel. */
  public static final double TARGET_RATIO = 0.85;

  /** One GEMM problem: C[m,n] = op(A) op(B) + beta C. */
  public record Shape(String name, boolean transA, boolean transB, int m, int n, int k, float beta) {
    public double flops() {
      return 2.0 * m * n * k;
    }

    public String op() {
      return (transA ? "T" : "N") + (transB ? "T" : "N");
    }

    /** The same case with every dimension divided by {@code f} (for slow implementations). */
    public Shape scaled(int f) {
      return new Shape(name, transA, transB, Math.max(1, m / f), Math.max(1, n / f), Math.max(1, k / f), beta);
    }
  }

  /** One measurement. */
  public record Result(String impl, int threads, Shape shape, double gflops) {}

  /** GPT-2 small linear shapes (the MLP up-projection, 768 -> 3072) with 2048 tokens per step. */
  public static final List<Shape> TRANSFORMER_SHAPES = List.of(
      new Shape("forward", false, false, 2048, 3072, 768, 0f),
      new Shape("input-grad", false, true, 2048, 768, 3072, 0f),
      new Shape("weight-grad", true, false, 768, 3072, 2048, 1f));

  @Option(names = "--threads", defaultValue = "2", description = "Compute threads (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--seconds", defaultValue = "1.0",
      description = "Time budget of timed repetitions per measurement, in seconds (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--iterations", defaultValue = "0",
      description = "Fixed number of timed repetitions per measurement (overrides --seconds when > 0).")
  int iterations;

  @Option(names = "--impl", split = ",", defaultValue = "vector,openblas",
      description = "Implementations to measure: vector, openblas, scalar (run on shapes scaled down 4x per "
          + "dimension), openblas-native (OpenBLAS on native memory, no copies). Default: ${DEFAULT-VALUE}.")
  List<String> impls;

  @Override
  public Integer call() {
    if (threads < 1) throw new WeftInputException("--threads must be >= 1, got " + threads);
    if (seconds <= 0 && iterations <= 0) throw new WeftInputException("--seconds must be > 0 (or give --iterations)");
    List<Gemm> timed = new ArrayList<>();
    for (String impl : impls) {
      if (!impl.equals("scalar") && !impl.equals("openblas-native")) timed.add(Gemm.byName(impl));
    }
    System.out.printf(Locale.ROOT, "fp32 GEMM throughput, %d thread(s), median of timed repetitions%s%n", threads,
        timed.size() > 1 ? " (implementations interleaved in blocks of 3 calls)" : "");
    if (impls.stream().anyMatch(i -> i.startsWith("openblas"))) {
      String env = System.getenv("OPENBLAS_CORETYPE");
      System.out.printf("OpenBLAS kernels: %s%s%n", BlasGemm.coreName(), env == null
          ? " (auto-detected)"
          : " (forced by OPENBLAS_CORETYPE=" + env + " in the environment; unset it to let OpenBLAS pick its "
            + "kernels for this CPU, which may be much faster, e.g. its AVX-512 ones)");
    }
    System.out.printf(Locale.ROOT, "%-12s %-3s %5s %5s %5s %4s  %-16s %9s%n",
        "shape", "op", "m", "n", "k", "beta", "impl", "GFLOP/s");
    List<Result> results = new ArrayList<>();
    for (Shape s : TRANSFORMER_SHAPES) {
      double[] gf = measureInterleaved(timed, threads, s, seconds, iterations);
      for (int i = 0; i < timed.size(); i++) results.add(new Result(timed.get(i).name(), threads, s, gf[i]));
      if (impls.contains("openblas-native")) {
        double sec = BlasGemm.medianNativeSeconds(threads, s.transA(), s.transB(), s.m(), s.n(), s.k(), s.beta(),
            Math.max(3, iterations > 0 ? iterations : 7));
        results.add(new Result("openblas-native", threads, s, s.flops() / sec / 1e9));
      }
      if (impls.contains("scalar")) {
        Shape small = s.scaled(4);
        results.add(new Result("scalar", threads, small,
            measureGflops(Gemm.byName("scalar"), threads, small, seconds, iterations)));
      }
      for (String impl : impls) {
        Result r = results.stream().filter(x -> x.impl().equals(impl) && x.shape().name().equals(s.name()))
            .findFirst().orElseThrow();
        Shape run = r.shape();
        System.out.printf(Locale.ROOT, "%-12s %-3s %5d %5d %5d %4.0f  %-16s %9.1f%n",
            run.name(), run.op(), run.m(), run.n(), run.k(), run.beta(), impl, r.gflops());
      }
    }
    if (impls.contains("vector") && (impls.contains("openblas") || impls.contains("openblas-native"))) {
      System.out.println();
      for (Shape s : TRANSFORMER_SHAPES) {
        double v = find(results, "vector", s);
        for (String ref : List.of("openblas", "openblas-native")) {
          if (!impls.contains(ref)) continue;
          double r = v / find(results, ref, s);
          System.out.printf(Locale.ROOT, "%-12s vector/%-16s = %5.2f  %s%n", s.name(), ref, r,
              r >= TARGET_RATIO ? "meets 85%" : "BELOW 85%");
        }
      }
    }
    return 0;
  }

  /**
   * Measures several implementations on one shape in the same conditions: each is warmed up, then timed
   * calls alternate between them (so that load from other processes hits all alike). Returns GFLOP/s per
   * implementation (2 m n k / median time), in the order given.
   */
  public static double[] measureInterleaved(List<Gemm> gemms, int threads, Shape shape, double seconds,
                                            int iterations) {
    int m = shape.m(), n = shape.n(), k = shape.k();
    int lda = shape.transA() ? m : k, ldb = shape.transB() ? k : n;
    Random rnd = new Random(42);
    float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
    for (int i = 0; i < a.length; i++) a[i] = rnd.nextFloat() - 0.5f;
    for (int i = 0; i < b.length; i++) b[i] = rnd.nextFloat() - 0.5f;
    int count = gemms.size();
    Compute[] cxs = new Compute[count];
    try {
      for (int i = 0; i < count; i++) cxs[i] = new Compute(threads, gemms.get(i));
      for (int i = 0; i < count; i++) {
        Gemm g = gemms.get(i);
        long warmEnd = System.nanoTime() + (long) (Math.max(seconds, 0.2) * 0.5e9);
        for (int w = 0; w < 3 || System.nanoTime() < warmEnd; w++) {
          g.gemm(cxs[i], shape.transA(), shape.transB(), m, n, k, a, 0, lda, b, 0, ldb, shape.beta(), c, 0, n);
        }
      }
      List<List<Double>> times = new ArrayList<>();
      for (int i = 0; i < count; i++) times.add(new ArrayList<>());
      // Blocks of BLOCK timed calls per implementation, alternating. On switching, pause and make one
      // untimed call: OpenBLAS's worker threads keep spinning for a while after a call and would steal a
      // core from whatever runs next.
      long end = System.nanoTime() + (long) (seconds * count * 1e9);
      for (int r = 0; iterations > 0 ? times.get(0).size() < iterations : r < 1 || System.nanoTime() < end; r++) {
        for (int i = 0; i < count; i++) {
          if (count > 1) {
            settle();
            gemms.get(i).gemm(cxs[i], shape.transA(), shape.transB(), m, n, k, a, 0, lda, b, 0, ldb,
                shape.beta(), c, 0, n);
          }
          int block = iterations > 0 ? Math.min(BLOCK, iterations - times.get(i).size()) : BLOCK;
          for (int rep = 0; rep < block; rep++) {
            long t0 = System.nanoTime();
            gemms.get(i).gemm(cxs[i], shape.transA(), shape.transB(), m, n, k, a, 0, lda, b, 0, ldb,
                shape.beta(), c, 0, n);
            times.get(i).add((System.nanoTime() - t0) * 1e-9);
          }
        }
      }
      double[] out = new double[count];
      for (int i = 0; i < count; i++) {
        double[] t = times.get(i).stream().mapToDouble(Double::doubleValue).sorted().toArray();
        out[i] = shape.flops() / t[t.length / 2] / 1e9;
      }
      return out;
    } finally {
      for (Compute cx : cxs) if (cx != null) cx.close();
    }
  }

  private static final int BLOCK = 3;
  private static final long SETTLE_MILLIS = 300;

  private static void settle() {
    try {
      Thread.sleep(SETTLE_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static double find(List<Result> results, String impl, Shape s) {
    return results.stream().filter(r -> r.impl().equals(impl) && r.shape().name().equals(s.name()))
        .mapToDouble(Result::gflops).findFirst().orElse(Double.NaN);
  }

  /**
   * Measures {@code g} on {@code shape} with a fresh {@link Compute} of {@code threads} threads: warm-up
   * (at least 3 calls and about half the budget), then timed calls ({@code iterations} of them, or as many
   * as fit in {@code seconds}, at least 3), returning 2 m n k / median time in GFLOP/s.
   */
  public static double measureGflops(Gemm g, int threads, Shape shape, double seconds, int iterations) {
    return measureInterleaved(List.of(g), threads, shape, seconds, iterations)[0];
  }

  /** Measures {@code g} on every transformer shape; figures in GFLOP/s, in {@link #TRANSFORMER_SHAPES} order. */
  public static List<Result> measureTransformerShapes(Gemm g, int threads, double seconds) {
    List<Result> out = new ArrayList<>();
    for (Shape s : TRANSFORMER_SHAPES) out.add(new Result(g.name(), threads, s, measureGflops(g, threads, s, seconds, 0)));
    return out;
  }
}
