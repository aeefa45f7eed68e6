package dev.weft.plan;

import dev.weft.bench.CommBenchCommand;
import dev.weft.bench.MatmulPeak;
import dev.weft.comm.Communicator;
import dev.weft.comm.LocalCluster;
import dev.weft.comm.ReduceOp;
import dev.weft.kernels.Gemm;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.train.StepMetrics;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import dev.weft.tensor.DeviceMemory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Measures this machine for the planner ({@code weft plan --calibrate}) and saves a {@link DeviceSpec}:
 * <ol>
 * <li>fp32 matrix-product GFLOP/s per rank with 1 and 2 (up to the core count) threads: Weft's default
 *     (pure-Java vector) GEMM on a transformer-shaped product M=1024, K=384, N=1536 (the {@code mini}
 *     preset's MLP with 1024 tokens), median of timed calls after a warm-up
 *     ({@link MatmulPeak#gflops});
 * <li>the local backend's all-reduce over 2 rank threads: bus bandwidth 2(n-1)/n S / t at 1 and 8 MiB
 *     (the larger is the link bandwidth) and the latency alpha = t / (2(n-1)) of a 4 KiB all-reduce
 *     (Thakur et al. 2005's ring cost, as in {@link Collectives});
 * <li>optionally ({@code tcp}) the tcp backend on loopback through {@code weft bench comm}'s
 *     measurement (2 processes, 16 MiB, and its 4-rank 4 KiB latency); otherwise the inter-node link is
 *     recorded as the local one (every rank of a local run is on this machine);
 * <li>the efficiency of a whole training step: two single-rank steps with all cores, of {@code micro}
 *     (B=4) and {@code mini} (B=2), each the median of 5 steps after a warm-up one, the best of
 *     {@link #STEP_ROUNDS} rounds alternating the two (and after a
 *     12-step JIT warm-up run, {@link RuntimeComparison#warmUp}). The time model's single-rank step
 *     is {@code F / (G e) + E / H} (F the matrix FLOPs, E the bytes of {@link TimeModel}'s memory-bound
 *     kernels and optimizer, G the measured GEMM rate). H (hbm_gbps) is measured: single-thread copy
 *     bandwidth of 64 MiB. Two constants are fitted exactly to the two steps: e (compute_efficiency, kept
 *     in [0.2, 1]) and a fixed cost o per layer per micro-batch ({@code layer_overhead_us}: the many
 *     short kernels and thread hand-offs of a small model, which dominate {@code micro} and barely show
 *     in {@code mini}). Under the noise of a shared machine the fit moves from run to run; the
 *     {@code calibration} object keeps the raw step times so a reader can judge.
 * </ol>
 * Takes about 30-60 s on a quiet 2-core machine. Memory per device: the JVM's maximum heap.
 */
public final class Calibration {
  private Calibration() {
  }

  public static final int GEMM_M = 1024, GEMM_K = 384, GEMM_N = 1536;

  /** ~/.weft/device.json: where a calibration is saved and found by default. */
  public static Path defaultFile() {
    return Path.of(System.getProperty("user.home"), ".weft", "device.json");
  }

  /**
   * The spec to plan with: {@code file} if given, else the default file if a calibration was saved there,
   * else {@link #defaultLocal()} (uncalibrated).
   */
  public static DeviceSpec loadOrDefault(Path file) {
    if (file != null) return DeviceSpec.load(file);
    Path d = defaultFile();
    if (Files.isRegularFile(d)) return DeviceSpec.load(d);
    return defaultLocal();
  }

  /**
   * An uncalibrated description of this machine, for when nothing was measured: assumed 8 GFLOP/s per
   * thread of matrix products (a modest AVX2 core running the Java vector GEMM), step efficiency 0.5,
   * 5 GB/s for the non-matrix kernels, local all-reduce 2 GB/s with 30 us latency, tcp 1 GB/s, 100 us.
   * Assumptions, not measurements: run {@code weft plan --calibrate} for real figures.
   */
  public static DeviceSpec defaultLocal() {
    int cores = Runtime.getRuntime().availableProcessors();
    Map<String, Double> g = new TreeMap<>();
    g.put("1", 8.0);
    g.put(Integer.toString(Math.max(2, cores)), 8.0 * Math.max(2, cores));
    Map<String, Object> cal = new LinkedHashMap<>();
    cal.put("note", "uncalibrated defaults; run 'weft plan --calibrate'");
    return DeviceSpec.measured("local (uncalibrated)", Runtime.getRuntime().maxMemory(), 8.0 * cores, 2.0, 30, 1.0,
        100, cores).withLocal(cores, g, 0.5, 5.0, 200, cal);
  }

  /** Measures this machine (see the class comment); progress on {@code log}. */
  public static DeviceSpec measure(PrintStream log, boolean tcp) throws Exception {
    long t0 = System.nanoTime();
    int cores = Runtime.getRuntime().availableProcessors();
    Map<String, Object> raw = new LinkedHashMap<>();
    raw.put("cores", cores);

    Map<String, Double> byThreads = new TreeMap<>();
    Gemm gemm = Gemm.byName("vector");
    int[] counts = {1, Math.max(2, Math.min(cores, 2))};
    // Best of three rounds, the thread counts alternating: the first measurement runs while the JIT is still
    // compiling the kernel (it read 1 thread at under half of 2 threads' rate), and the machine's other load
    // comes and goes.
    double[] best = new double[counts.length];
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < counts.length; i++) {
        best[i] = Math.max(best[i], MatmulPeak.gflops(gemm, counts[i], GEMM_M, GEMM_K, GEMM_N, 5));
      }
    }
    for (int i = 0; i < counts.length; i++) {
      byThreads.put(Integer.toString(counts[i]), round(best[i], 2));
      log.printf(Locale.ROOT, "  matmul fp32 (vector, M=%d K=%d N=%d), %d thread%s: %.1f GFLOP/s (best of 3)%n", GEMM_M,
          GEMM_K, GEMM_N, counts[i], counts[i] == 1 ? "" : "s", best[i]);
    }
    if (cores > 2) {
      double g = MatmulPeak.gflops(gemm, cores, GEMM_M, GEMM_K, GEMM_N, 5);
      byThreads.put(Integer.toString(cores), round(g, 2));
      log.printf(Locale.ROOT, "  matmul fp32, %d threads: %.1f GFLOP/s%n", cores, g);
    }
    raw.put("gemm_shape", GEMM_M + "x" + GEMM_K + "x" + GEMM_N + " vector");

    // Best of three alternating rounds, as for the matrix products.
    double small = Double.MAX_VALUE, mid = Double.MAX_VALUE, big = Double.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      small = Math.min(small, localAllReduceSeconds(2, 4096, 300));
      mid = Math.min(mid, localAllReduceSeconds(2, 1 << 20, 20));
      big = Math.min(big, localAllReduceSeconds(2, 8 << 20, 5));
    }
    double alpha = small / 2; // 2(n-1) ring steps at n = 2
    double busMid = busGBps(2, 1 << 20, mid), busBig = busGBps(2, 8 << 20, big);
    log.printf(Locale.ROOT, "  local all-reduce, 2 ranks: 4 KiB %.1f us (latency %.1f us per step), 1 MiB %.2f GB/s, "
        + "8 MiB %.2f GB/s bus bandwidth%n", small * 1e6, alpha * 1e6, busMid, busBig);
    raw.put("local_allreduce_4KiB_us", round(small * 1e6, 2));
    raw.put("local_allreduce_1MiB_bus_gbps", round(busMid, 3));
    raw.put("local_allreduce_8MiB_bus_gbps", round(busBig, 3));
    double localGBps = Math.max(busMid, busBig);

    double tcpGBps = localGBps, tcpLatUs = alpha * 1e6;
    if (tcp) {
      double[] t = tcpFigures();
      tcpGBps = t[0];
      tcpLatUs = t[1];
      log.printf(Locale.ROOT, "  tcp all-reduce (loopback), 2 processes: %.2f GB/s bus bandwidth, latency %.1f us per "
          + "step%n", tcpGBps, tcpLatUs);
      raw.put("tcp_allreduce_16MiB_bus_gbps", round(tcpGBps, 3));
      raw.put("tcp_latency_us", round(tcpLatUs, 2));
    } else {
      raw.put("tcp", "not measured (inter-node link recorded as the local one)");
    }

    Path data = RuntimeComparison.syntheticCorpus();
    RuntimeComparison.warmUp(data);
    DeviceSpec provisional = DeviceSpec.measured("this machine", Runtime.getRuntime().maxMemory(),
        byThreads.get(Integer.toString(Math.max(2, Math.min(cores, 2)))), localGBps, alpha * 1e6, tcpGBps, tcpLatUs,
        cores).withLocal(cores, byThreads, 1.0, 1e9, 0, raw);
    LocalMachine lm = LocalMachine.of(provisional);
    double[] fit = fitStep(lm, data, log, raw);
    double eff = fit[0], hbm = fit[1], overheadUs = fit[2];
    raw.put("seconds", round((System.nanoTime() - t0) / 1e9, 1));
    log.printf(Locale.ROOT, "  training-step fit: compute_efficiency %.3f, per-layer overhead %.0f us per micro-batch "
        + "(memory-bound kernels at the measured copy bandwidth %.2f GB/s)%n", eff, overheadUs, hbm);
    return DeviceSpec.measured("this machine (" + cores + " cores, calibrated)", Runtime.getRuntime().maxMemory(),
            byThreads.get(Integer.toString(Math.max(2, Math.min(cores, 2)))), round(localGBps, 3),
            round(alpha * 1e6, 2), round(tcpGBps, 3), round(tcpLatUs, 2), cores)
        .withLocal(cores, byThreads, round(eff, 4), round(hbm, 3), round(overheadUs, 1), raw);
  }

  /** Rounds of the two calibration steps; each step's figure is the best round's median. */
  static final int STEP_ROUNDS = 3;

  /** The two calibration steps (single rank, all cores): {model, batch}. */
  static final List<Object[]> STEP_CASES = List.of(new Object[] {"micro", 4}, new Object[] {"mini", 2});

  /** Fits {efficiency, hbm GB/s} from the two single-rank steps (class comment). */
  static double[] fitStep(LocalMachine lm, Path data, PrintStream log, Map<String, Object> raw) {
    double[] f = new double[2], e = new double[2], t = new double[2], n = new double[2];
    ClusterSpec c1 = lm.cluster(1);
    java.util.Arrays.fill(t, Double.MAX_VALUE);
    // Best of STEP_ROUNDS rounds, the two models alternating: a shared machine's load comes and goes, and the
    // fastest median is the one least disturbed by it.
    for (int round = 0; round < STEP_ROUNDS; round++) {
      for (int i = 0; i < 2; i++) {
        ModelSpec mc = Families.preset((String) STEP_CASES.get(i)[0]);
        t[i] = Math.min(t[i], medianStepSeconds(mc, (Integer) STEP_CASES.get(i)[1], data));
      }
    }
    for (int i = 0; i < 2; i++) {
      String preset = (String) STEP_CASES.get(i)[0];
      int batch = (Integer) STEP_CASES.get(i)[1];
      ModelSpec mc = Families.preset(preset);
      Job job = new Job(mc, batch, Precision.FP32);
      Layout l = Layout.single(batch);
      // Matrix seconds at efficiency 1 (hbm huge: no elementwise), and elementwise bytes (seconds at 1 B/s).
      f[i] = TimeModel.estimate(job, l, c1.withComputeEfficiency(1.0).withHbm(1e30), false).step();
      e[i] = TimeModel.estimate(job, l, c1.withComputeEfficiency(1e30).withHbm(1.0), false).step();
      n[i] = mc.layers(); // one micro-batch of B sequences
      log.printf(Locale.ROOT, "  training step, %s B=%d, 1 rank x %d threads: %.1f ms, best of %d (matrix products "
          + "alone at the measured rate: %.1f ms)%n", preset, batch, lm.threadsPerRank(1), t[i] * 1e3, STEP_ROUNDS,
          f[i] * 1e3);
      raw.put("step_" + preset + "_B" + batch + "_ms", round(t[i] * 1e3, 2));
    }
    // t_i = f_i / eff + e_i / H + n_i o, H the measured copy bandwidth, n_i layers x micro-batches:
    // two steps, two unknowns x = 1/eff and o, solved exactly, then kept in range (eff in [0.2, 1], o >= 0).
    double h = memcpyGBps() * 1e9;
    double[] r = new double[2];
    for (int i = 0; i < 2; i++) r[i] = t[i] - e[i] / h;
    double det = f[0] * n[1] - f[1] * n[0];
    double x = (r[0] * n[1] - r[1] * n[0]) / det;
    double eff = x > 0 ? Math.max(0.2, Math.min(1.0, 1 / x)) : 1.0;
    double o = 0;
    for (int i = 0; i < 2; i++) o += Math.max(0, r[i] - f[i] / eff);
    o /= n[0] + n[1];
    raw.put("memcpy_gbps", round(h / 1e9, 3));
    raw.put("fit", "t = F/(G eff) + E/H + layers x micro-batches x overhead; eff and overhead from the 2 steps");
    return new double[] {eff, h / 1e9, o * 1e6};
  }

  private static double medianStepSeconds(ModelSpec mc, int batch, Path data) {
    TrainConfig cfg = TrainConfig.builder(mc).steps(6).batch(batch).lr(1e-3).warmup(0).seed(1).evalEvery(0)
        .evalBatches(0).data(data).build();
    Trainer.Result r = new Trainer(cfg, new PrintStream(OutputStream.nullOutputStream())).run();
    double[] ms = r.steps().subList(1, r.steps().size()).stream().mapToDouble(StepMetrics::stepMs).sorted().toArray();
    return ms[ms.length / 2] / 1e3;
  }

  /** Mean seconds per all-reduce of {@code bytes} over n local rank threads (after a warm-up), rank 0's view. */
  static double localAllReduceSeconds(int n, long bytes, int iters) throws Exception {
    double[] result = new double[1];
    LocalCluster.run(n, Duration.ofSeconds(60), b -> {
      Communicator c = b.world();
      float[] x = new float[(int) (bytes / 4)];
      Arrays.fill(x, 1f);
      int warm = bytes < (1 << 20) ? 50 : 2;
      for (int i = 0; i < warm; i++) c.allReduce(x, 0, x.length, ReduceOp.SUM);
      c.barrier();
      long t0 = System.nanoTime();
      for (int i = 0; i < iters; i++) c.allReduce(x, 0, x.length, ReduceOp.SUM);
      c.barrier();
      if (b.rank() == 0) result[0] = (System.nanoTime() - t0) / 1e9 / iters;
    });
    return result[0];
  }

  static double busGBps(int n, long bytes, double seconds) {
    return 2.0 * (n - 1) / n * bytes / seconds / 1e9;
  }

  /** Best of 4 single-thread copies of 64 MiB, GB/s. */
  static double memcpyGBps() {
    float[] a = new float[16 << 20], b = new float[a.length];
    Arrays.fill(a, 1f);
    double best = Double.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      long t0 = System.nanoTime();
      System.arraycopy(a, 0, b, 0, a.length);
      best = Math.min(best, (System.nanoTime() - t0) / 1e9);
    }
    return a.length * 4.0 / best / 1e9;
  }

  /** {bus GB/s, latency us per ring step} of the tcp backend, from {@code weft bench comm}'s output. */
  static double[] tcpFigures() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
    int code = new CommandLine(new CommBenchCommand(ps)).execute("--ranks", "2", "--size-mib", "16", "--iters", "3");
    String text = buf.toString(StandardCharsets.UTF_8);
    if (code != 0) throw new IllegalStateException("tcp measurement failed:\n" + text);
    Matcher bw = Pattern.compile("tcp allReduce\\s+2\\s+16 MiB\\s+\\S+ ms\\s+([0-9.]+)").matcher(text);
    Matcher lat = Pattern.compile("tcp allReduce latency\\s+4\\s+4 KiB\\s+([0-9.]+) (us|ms)").matcher(text);
    if (!bw.find() || !lat.find()) throw new IllegalStateException("cannot read the tcp figures from:\n" + text);
    double latS = Double.parseDouble(lat.group(1)) * (lat.group(2).equals("ms") ? 1e-3 : 1e-6);
    return new double[] {Double.parseDouble(bw.group(1)), latS / 6 * 1e6}; // 4 ranks: 2(n-1) = 6 ring steps
  }

  /** Writes {@code spec} to {@code file} (parents created). */
  public static void save(DeviceSpec spec, Path file) throws IOException {
    spec.write(file);
  }

  static double round(double x, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(x * f) / f;
  }
}
