package dev.weft.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Map;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.dnnl.global.dnnl;

/**
 * Weft's door to oneDNN (Intel's deep-learning primitives library, {@code org.bytedeco:dnnl}): loads it once,
 * says what it found, and calls its two BLAS-style functions on Java heap arrays without copies.
 *
 * <p>{@code dnnl_sgemm} and {@code dnnl_gemm_bf16bf16f32} compute {@code C = alpha op(A) op(B) + beta C},
 * row-major, with exactly {@link Gemm}'s conventions ('N'/'T', leading dimensions in elements). A and B are
 * fp32, or bf16 (a 16-bit {@code short}, see {@link Bf16}), C is fp32; the bf16 one multiplies with
 * the CPU's bf16 dot-product instructions (AVX512_BF16 {@code VDPBF16PS}, or AMX) where it has them and
 * accumulates in fp32.
 *
 * <p>How it is called: JavaCPP's {@link Loader} extracts the library files from the jar (to its cache,
 * {@code ~/.javacpp/cache}) and loads them; the functions are then looked up by name in the same
 * {@code libdnnl.so} and called through {@link Linker} downcalls with {@link Linker.Option#critical} heap
 * access, so native code reads and writes the Java arrays in place (the JVM holds off garbage collection
 * for the length of a call, a few milliseconds). JavaCPP's own bindings do not declare the bf16 function
 * (it is exported, not in the public header), and their {@code float[]} overloads copy whole arrays.
 *
 * <p>Threads: this build of oneDNN runs on OpenMP (GNU libgomp, shipped in the same jar). OpenMP's thread
 * count is a per-thread setting ({@code omp_set_num_threads} changes the calling thread's), so each caller
 * sets its own right before its call ({@link #setCallerThreads}); different Java threads then run their
 * calls side by side, each with its own OpenMP team, and none disturbs another's count.
 *
 * <p>Process-wide state (forced by the native library): the library is loaded once per process; the first
 * failure to load is remembered and reported once on standard error by {@link #reportUnavailableOnce}.
 */
public final class OneDnn {
  /**
   * What loading found. {@code isa} is oneDNN's effective instruction set (a bit mask, e.g. 0x7 avx2,
   * 0xe7 avx512_core_bf16); {@code failure} says why the library is unavailable, or is null.
   */
  public record Status(boolean loaded, String version, int isa, String isaName, String failure) {
    /** True when the CPU has bf16 dot-product instructions that oneDNN will use (AVX512_BF16 or AMX). */
    public boolean nativeBf16() {
      return loaded && (isa & ISA_AVX512_CORE_BF16) == ISA_AVX512_CORE_BF16;
    }

    /** A status for a library that could not be loaded. */
    public static Status unavailable(String why) {
      return new Status(false, "", 0, "", why);
    }
  }

  /** oneDNN's {@code dnnl_cpu_isa_avx512_core_bf16}: every richer ISA (AMX, AVX10) contains these bits. */
  static final int ISA_AVX512_CORE_BF16 = 0xE7;

  private static final FunctionDescriptor GEMM = FunctionDescriptor.of(ValueLayout.JAVA_INT,
      ValueLayout.JAVA_BYTE, ValueLayout.JAVA_BYTE, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
      ValueLayout.JAVA_LONG, ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
      ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_FLOAT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG);

  /** The loaded library: filled once by the holder idiom (class initialisation is thread-safe). */
  private static final class Native {
    static final Status STATUS;
    static final MethodHandle SGEMM, GEMM_BF16, OMP_SET_NUM_THREADS, OMP_GET_MAX_THREADS;

    static {
      Status status;
      MethodHandle sgemm = null, bf16 = null, ompSet = null, ompGet = null;
      try {
        Loader.load(dnnl.class);
        Map<String, String> libs = Loader.getLoadedLibraries();
        Linker linker = Linker.nativeLinker();
        SymbolLookup dnnlLib = SymbolLookup.libraryLookup(libraryPath(libs, "libdnnl.so"), Arena.global());
        SymbolLookup omp = SymbolLookup.libraryLookup(libraryPath(libs, "libgomp.so"), Arena.global());
        Linker.Option heap = Linker.Option.critical(true);
        sgemm = linker.downcallHandle(find(dnnlLib, "dnnl_sgemm"), GEMM, heap);
        bf16 = linker.downcallHandle(find(dnnlLib, "dnnl_gemm_bf16bf16f32"), GEMM, heap);
        ompSet = linker.downcallHandle(find(omp, "omp_set_num_threads"),
            FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT), Linker.Option.critical(false));
        ompGet = linker.downcallHandle(find(omp, "omp_get_max_threads"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT), Linker.Option.critical(false));
        var v = dnnl.dnnl_version();
        int isa = dnnl.dnnl_get_effective_cpu_isa();
        status = new Status(true, v.major() + "." + v.minor() + "." + v.patch(), isa, isaName(isa), null);
      } catch (Throwable t) {
        status = Status.unavailable(t.toString());
        sgemm = bf16 = ompSet = ompGet = null;
      }
      STATUS = status;
      SGEMM = sgemm;
      GEMM_BF16 = bf16;
      OMP_SET_NUM_THREADS = ompSet;
      OMP_GET_MAX_THREADS = ompGet;
    }
  }

  private static final Object REPORT_LOCK = new Object();
  private static boolean reported;

  private OneDnn() {}

  /** Loads oneDNN on first use (about a second; the first run also extracts ~100 MB) and says what it found. */
  public static Status status() {
    return Native.STATUS;
  }

  /** True when oneDNN loaded. */
  public static boolean available() {
    return status().loaded();
  }

  /** Throws an {@link IllegalStateException} naming the cause and the fix when oneDNN did not load. */
  static void requireLoaded(String what) {
    Status s = status();
    if (!s.loaded()) {
      throw new IllegalStateException("The oneDNN native library (org.bytedeco:dnnl, platform "
          + Loader.getPlatform() + ") could not be loaded, so " + what + " is unavailable; use the pure-Java "
          + "kernels instead (\"vector\" for fp32, \"java\" for bf16). Cause: " + s.failure());
    }
  }

  /** Prints, once per process, that oneDNN could not be loaded and what Weft does instead. */
  static void reportUnavailableOnce() {
    Status s = status();
    if (s.loaded()) return;
    synchronized (REPORT_LOCK) {
      if (reported) return;
      reported = true;
    }
    System.err.println("weft: oneDNN (org.bytedeco:dnnl) could not be loaded, so bf16 matrix products run on "
        + "the pure-Java path (fp32 speed). Cause: " + s.failure());
  }

  /** Sets the OpenMP thread count of the calling thread (its own setting; other threads keep theirs). */
  static void setCallerThreads(int threads) {
    try {
      Native.OMP_SET_NUM_THREADS.invokeExact(threads);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** The OpenMP thread count the calling thread's next oneDNN call will use. */
  static int callerThreads() {
    try {
      return (int) Native.OMP_GET_MAX_THREADS.invokeExact();
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** {@code dnnl_sgemm} on heap arrays: C = op(A) op(B) + beta C. Bounds must have been checked. */
  static void sgemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, int lda,
                    float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    int status;
    try {
      status = (int) Native.SGEMM.invokeExact(op(transA), op(transB), (long) m, (long) n, (long) k, 1f,
          at(a, aOff), (long) lda, at(b, bOff), (long) ldb, beta, at(c, cOff), (long) ldc);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    check(status, "dnnl_sgemm", m, n, k);
  }

  /** {@code dnnl_gemm_bf16bf16f32} on heap arrays: C = op(A) op(B) + beta C. Bounds must have been checked. */
  static void gemmBf16(boolean transA, boolean transB, int m, int n, int k, short[] a, int aOff, int lda,
                       short[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
    int status;
    try {
      status = (int) Native.GEMM_BF16.invokeExact(op(transA), op(transB), (long) m, (long) n, (long) k, 1f,
          at(a, aOff), (long) lda, at(b, bOff), (long) ldb, beta, at(c, cOff), (long) ldc);
    } catch (Throwable t) {
      throw rethrow(t);
    }
    check(status, "dnnl_gemm_bf16bf16f32", m, n, k);
  }

  private static MemorySegment at(float[] x, int off) {
    return MemorySegment.ofArray(x).asSlice(4L * off);
  }

  private static MemorySegment at(short[] x, int off) {
    return MemorySegment.ofArray(x).asSlice(2L * off);
  }

  private static byte op(boolean trans) {
    return (byte) (trans ? 'T' : 'N');
  }

  private static void check(int status, String fn, int m, int n, int k) {
    if (status != 0) {
      throw new IllegalStateException(fn + " failed with oneDNN status " + status + " (m=" + m + " n=" + n
          + " k=" + k + "); 1 = out of memory, 2 = invalid arguments, 3 = unimplemented on this CPU");
    }
  }

  private static Path libraryPath(Map<String, String> loaded, String prefix) {
    for (String file : loaded.values()) {
      if (file != null && Path.of(file).getFileName().toString().startsWith(prefix)) return Path.of(file);
    }
    throw new IllegalStateException(prefix + "* was not among the libraries JavaCPP loaded: " + loaded.values());
  }

  private static MemorySegment find(SymbolLookup lib, String name) {
    return lib.find(name).orElseThrow(() -> new IllegalStateException("symbol " + name + " not found"));
  }

  /** oneDNN's name for an effective ISA value (e.g. "avx2", "avx512_core_bf16"). */
  private static String isaName(int isa) {
    return switch (isa) {
      case 0x1 -> "sse41";
      case 0x3 -> "avx";
      case 0x7 -> "avx2";
      case 0xF -> "avx2_vnni";
      case 0x1F -> "avx2_vnni_2";
      case 0x27 -> "avx512_core";
      case 0x67 -> "avx512_core_vnni";
      case 0xE7 -> "avx512_core_bf16";
      case 0x1EF -> "avx10_1_512 (avx512_core_fp16)";
      case 0xFEF -> "avx10_1_512_amx (avx512_core_amx)";
      case 0x1FEF -> "avx10_1_512_amx_fp16";
      default -> "isa 0x" + Integer.toHexString(isa);
    };
  }

  private static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException re) return re;
    if (t instanceof Error e) throw e;
    return new IllegalStateException(t);
  }
}
