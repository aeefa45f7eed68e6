package dev.weft.bench;

import dev.weft.WeftInputException;
import dev.weft.kernels.Bf16;
import dev.weft.kernels.Bf16Gemm;
import dev.weft.kernels.BlasGemm;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.kernels.OneDnn;
import dev.weft.kernels.OneDnnBf16Gemm;
import dev.weft.kernels.OneDnnGemm;
import dev.weft.kernels.OneDnnThreading;
import dev.weft.kernels.VectorGemm;
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
 *
 * <p>Mixed precision: {@code --bf16 onednn,java} adds rows for the {@link Bf16Gemm} implementations
 * (bf16 x bf16 inputs, fp32 accumulation and output, timed on bf16 copies of the same inputs, interleaved
 * with the fp32 ones) and the same-run ratio bf16/vector per shape. {@code --shapes c384} adds the
 * products of a 6-layer d=384 model with 2048 tokens (attention qkv 384 -> 1152 and MLP 384 -> 1536,
 * forward, input gradient and weight gradient). oneDNN's bf16 GEMM is only timed on CPUs with bf16
 * dot-product instructions: elsewhere it runs reference loops three orders of magnitude slower, and the
 * run says so instead.
 */
@Command(name = "gemm", mixinStandardHelpOptions = true,
    description = "Measure fp32 GEMM throughput (GFLOP/s) of the vector, openblas and scalar kernels on the "
        + "GPT-2 linear-layer shapes (forward NN, input-gradient NT, weight-gradient TN), and the ratio "
        + "vector/openblas per shape; with --bf16, also bf16 GEMMs and the ratio bf16/vector per shape.")
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

  /** A 6-layer d=384 model (qkv 384 -> 1152, MLP 384 -> 1536) with 2048 tokens per step. */
  public static final List<Shape> C384_SHAPES = List.of(
      new Shape("qkv-fwd", false, false, 2048, 1152, 384, 0f),
      new Shape("qkv-igrad", false, true, 2048, 384, 1152, 0f),
      new Shape("qkv-wgrad", true, false, 384, 1152, 2048, 1f),
      new Shape("fc-fwd", false, false, 2048, 1536, 384, 0f),
      new Shape("fc-igrad", false, true, 2048, 384, 1536, 0f),
      new Shape("fc-wgrad", true, false, 384, 1536, 2048, 1f));

  /**
   * One implementation under test: an fp32 {@link Gemm}, or a {@link Bf16Gemm} timed on bf16 copies of
   * the same inputs (exactly one of the two is set). {@code label} names its rows.
   */
  public record Impl(String label, Gemm fp32, Bf16Gemm bf16) {
    public static Impl of(Gemm g) {
      return new Impl(g.name(), g, null);
    }

    public static Impl of(Bf16Gemm g) {
      return new Impl("bf16-" + g.name(), null, g);
    }
  }

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
          + "dimension), openblas-native (OpenBLAS on native memory, no copies), onednn (oneDNN sgemm on its OpenMP "
          + "threads), onednn-split (oneDNN sgemm, C cut over the device's threads). Default: ${DEFAULT-VALUE}.")
  List<String> impls;

  @Option(names = "--bf16", split = ",",
      description = "bf16 GEMMs to measure beside the fp32 ones (bf16 inputs, fp32 accumulation): onednn "
          + "(native; oneDNN's OpenMP threads), onednn-split (native; C cut over the device's threads), java "
          + "(pure Java), best (what Weft picks here). Default: none.")
  List<String> bf16Impls = new ArrayList<>();

  @Option(names = "--shapes", split = ",", defaultValue = "gpt2",
      description = "Shape sets: gpt2 (d=768, 2048 tokens), c384 (6-layer d=384 model, 2048 tokens). "
          + "Default: ${DEFAULT-VALUE}.")
  List<String> shapeSets;

  @Override
  public Integer call() {
    if (threads < 1) throw new WeftInputException("--threads must be >= 1, got " + threads);
    if (seconds <= 0 && iterations <= 0) throw new WeftInputException("--seconds must be > 0 (or give --iterations)");
    List<Shape> shapes = shapes(shapeSets);
    List<Impl> timed = new ArrayList<>();
    for (String impl : impls) {
      if (!impl.equals("scalar") && !impl.equals("openblas-native")) timed.add(Impl.of(fp32ByName(impl)));
    }
    List<String> bf16Notes = new ArrayList<>();
    for (String name : bf16Impls) {
      Bf16Gemm g = bf16ByName(name, bf16Notes);
      if (g != null) timed.add(Impl.of(g));
    }
    System.out.printf(Locale.ROOT, "%s GEMM throughput, %d thread(s), median of timed repetitions%s%n",
        bf16Impls.isEmpty() ? "fp32" : "fp32 and bf16", threads,
        timed.size() > 1 ? " (implementations interleaved in blocks of 3 calls)" : "");
    if (!bf16Impls.isEmpty()) {
      System.out.println(Bf16Gemm.describeBest());
      for (String note : bf16Notes) System.out.println(note);
    }
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
    List<String> rows = new ArrayList<>(impls);
    for (Impl impl : timed) if (impl.bf16() != null) rows.add(impl.label());
    for (Shape s : shapes) {
      double[] gf = measureImpls(timed, threads, s, seconds, iterations);
      for (int i = 0; i < timed.size(); i++) results.add(new Result(timed.get(i).label(), threads, s, gf[i]));
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
      for (String impl : rows) {
        Result r = results.stream().filter(x -> x.impl().equals(impl) && x.shape().name().equals(s.name()))
            .findFirst().orElseThrow();
        Shape run = r.shape();
        System.out.printf(Locale.ROOT, "%-12s %-3s %5d %5d %5d %4.0f  %-16s %9.1f%n",
            run.name(), run.op(), run.m(), run.n(), run.k(), run.beta(), impl, r.gflops());
      }
    }
    if (impls.contains("vector") && (impls.contains("openblas") || impls.contains("openblas-native"))) {
      System.out.println();
      for (Shape s : shapes) {
        double v = find(results, "vector", s);
        for (String ref : List.of("openblas", "openblas-native")) {
          if (!impls.contains(ref)) continue;
          double r = v / find(results, ref, s);
          System.out.printf(Locale.ROOT, "%-12s vector/%-16s = %5.2f  %s%n", s.name(), ref, r,
              r >= TARGET_RATIO ? "meets 85%" : "BELOW 85%");
        }
      }
    }
    List<String> bf16Rows = rows.subList(impls.size(), rows.size());
    if (impls.contains("vector") && !bf16Rows.isEmpty()) {
      System.out.println();
      for (Shape s : shapes) {
        double v = find(results, "vector", s);
        for (String b : bf16Rows) {
          System.out.printf(Locale.ROOT, "%-12s %s/vector = %5.2f  (same run)%n", s.name(), b, find(results, b, s) / v);
        }
      }
    }
    return 0;
  }

  /** {@link Gemm#byName}, plus "onednn-split": oneDNN's fp32 GEMM with C cut over the device's threads. */
  static Gemm fp32ByName(String name) {
    return name.equals("onednn-split") ? new OneDnnGemm(OneDnnThreading.SPLIT) : Gemm.byName(name);
  }

  /** The shapes of the named sets, in order; unknown names are a {@link WeftInputException}. */
  static List<Shape> shapes(List<String> sets) {
    List<Shape> out = new ArrayList<>();
    for (String set : sets) {
      switch (set) {
        case "gpt2" -> out.addAll(TRANSFORMER_SHAPES);
        case "c384" -> out.addAll(C384_SHAPES);
        default -> throw new WeftInputException("unknown shape set \"" + set + "\" for --shapes; valid choices "
            + "are: gpt2, c384 (comma-separated)");
      }
    }
    return out;
  }

  /**
   * The bf16 GEMM called {@code name} for timing, or null with a note saying why it is skipped: oneDNN's
   * bf16 GEMM on a CPU without bf16 dot products (reference loops, ~0.1 GFLOP/s) or without the library.
   */
  static Bf16Gemm bf16ByName(String name, List<String> notes) {
    boolean nativeImpl = name.equals("onednn") || name.equals("onednn-split");
    if (!nativeImpl) return Bf16Gemm.byName(name);
    OneDnn.Status st = OneDnn.status();
    if (!st.nativeBf16()) {
      notes.add("bf16-" + name + ": skipped, " + (st.loaded()
          ? "this CPU has no bf16 dot-product instructions (oneDNN " + st.version() + " sees " + st.isaName()
            + " and would run reference loops, about 0.1 GFLOP/s)"
          : "oneDNN did not load: " + st.failure()));
      return null;
    }
    return new OneDnnBf16Gemm(name.equals("onednn") ? OneDnnThreading.OPENMP : OneDnnThreading.SPLIT);
  }

  /**
   * Measures several implementations on one shape in the same conditions: each is warmed up, then timed
   * calls alternate between them (so that load from other processes hits all alike). Returns GFLOP/s per
   * implementation (2 m n k / median time), in the order given.
   */
  public static double[] measureInterleaved(List<Gemm> gemms, int threads, Shape shape, double seconds,
                                            int iterations) {
    return measureImpls(gemms.stream().map(Impl::of).toList(), threads, shape, seconds, iterations);
  }

  /**
   * {@link #measureInterleaved} for fp32 and bf16 implementations alike: the bf16 ones multiply bf16
   * copies of the same random inputs into the same fp32 C.
   */
  public static double[] measureImpls(List<Impl> impls, int threads, Shape shape, double seconds, int iterations) {
    int m = shape.m(), n = shape.n(), k = shape.k();
    Random rnd = new Random(42);
    float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
    for (int i = 0; i < a.length; i++) a[i] = rnd.nextFloat() - 0.5f;
    for (int i = 0; i < b.length; i++) b[i] = rnd.nextFloat() - 0.5f;
    short[] a16 = new short[a.length], b16 = new short[b.length];
    Bf16.fromFloat(a, 0, a16, 0, a.length);
    Bf16.fromFloat(b, 0, b16, 0, b.length);
    Operands data = new Operands(shape, a, b, a16, b16, c);
    int count = impls.size();
    Compute[] cxs = new Compute[count];
    try {
      for (int i = 0; i < count; i++) {
        Impl impl = impls.get(i);
        cxs[i] = new Compute(threads, impl.fp32() != null ? impl.fp32() : new VectorGemm());
      }
      for (int i = 0; i < count; i++) {
        long warmEnd = System.nanoTime() + (long) (Math.max(seconds, 0.2) * 0.5e9);
        for (int w = 0; w < 3 || System.nanoTime() < warmEnd; w++) data.run(impls.get(i), cxs[i]);
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
            data.run(impls.get(i), cxs[i]);
          }
          int block = iterations > 0 ? Math.min(BLOCK, iterations - times.get(i).size()) : BLOCK;
          for (int rep = 0; rep < block; rep++) {
            long t0 = System.nanoTime();
            data.run(impls.get(i), cxs[i]);
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

  /** The inputs of one shape, in fp32 and as bf16 copies, and C. */
  private record Operands(Shape shape, float[] a, float[] b, short[] a16, short[] b16, float[] c) {
    void run(Impl impl, Compute cx) {
      int m = shape.m(), n = shape.n(), k = shape.k();
      int lda = shape.transA() ? m : k, ldb = shape.transB() ? k : n;
      if (impl.fp32() != null) {
        impl.fp32().gemm(cx, shape.transA(), shape.transB(), m, n, k, a, 0, lda, b, 0, ldb, shape.beta(), c, 0, n);
      } else {
        impl.bf16().gemm(cx, shape.transA(), shape.transB(), m, n, k, a16, 0, lda, b16, 0, ldb, shape.beta(), c, 0, n);
      }
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
