package dev.weft.plan;

import dev.weft.WeftInputException;

/**
 * This machine as the planner sees it when Weft's ranks are threads of one process (the local backend):
 * a {@link ClusterSpec} per world size, built from a calibrated {@link DeviceSpec}.
 *
 * <p>Why the world size matters: the "devices" are not separate chips but ranks sharing the machine's
 * {@code cores}. The runtime gives each of W ranks {@code max(1, cores / W)} compute threads
 * ({@code threads 0} in TrainConfig), so a rank's matrix products run at the measured throughput of that
 * many threads, {@code G(threads)} (from {@code gflops_by_threads}; other counts scale the nearest
 * measured one linearly). W ranks of th threads want W th cores; when that is more than the machine has,
 * at most {@code cores} threads run at once and each rank gets the fraction {@code cores / (W th)} of its
 * threads' time (the OS time-slices them). So a rank's achievable rate is
 * {@code G(th) x min(1, cores / (W th)) x efficiency}, where efficiency is the calibrated ratio of a
 * whole training step's matrix-product time to its measured time (it folds in attention, LayerNorm, GELU,
 * the loss and the optimizer, which are not matrix products). The memory-bound kernels' rate (hbm_gbps)
 * and the per-layer overhead are shared the same way ({@link ClusterSpec#deviceShare}); a pipeline
 * stage waiting in its bubble frees its cores for the others, which {@link TimeModel} credits.
 *
 * <p>Links: all ranks are on one "node" (the local backend's shared-memory collectives, measured as
 * {@code intra_node_*}); the inter-node link is the tcp backend's loopback figures when calibrated.
 * Memory: the ranks share one JVM heap ({@code memory_bytes}, the calibrating JVM's maximum heap), so a
 * rank may use {@code memory_bytes / W}, of which {@link #USABLE_HEAP} (an assumption: headroom for the
 * garbage collector, the corpus and the communication buffers the runtime does not charge to a device).
 */
public record LocalMachine(DeviceSpec spec, int cores) {
  public static final double USABLE_HEAP = 0.75;

  public LocalMachine {
    if (spec == null) throw new WeftInputException("a local machine needs a device spec.");
    if (cores < 1) throw new WeftInputException("cores must be positive, got " + cores + ".");
  }

  /** From a device spec; cores from the spec, else this machine's available processors. */
  public static LocalMachine of(DeviceSpec spec) {
    int cores = spec.cores() != null && spec.cores() > 0 ? spec.cores() : Runtime.getRuntime().availableProcessors();
    return new LocalMachine(spec, cores);
  }

  /** Compute threads the runtime gives each of {@code world} local ranks: max(1, cores / world). */
  public int threadsPerRank(int world) {
    return Math.max(1, cores / world);
  }

  /** The fraction of its threads' time each rank gets: min(1, cores / (world x threads)). */
  public double coreShare(int world) {
    return Math.min(1.0, cores / ((double) world * threadsPerRank(world)));
  }

  /** Measured matrix-product GFLOP/s of one rank with {@code threads} threads (nearest measured, scaled). */
  public double gflops(int threads) {
    return spec.gflopsFor(threads);
  }

  /** The cluster {@code world} local ranks form (see the class comment). */
  public ClusterSpec cluster(int world) {
    if (world < 1) throw new WeftInputException("world size must be positive, got " + world + ".");
    double perRank = gflops(threadsPerRank(world)) * coreShare(world) * 1e9;
    ClusterSpec base = spec.toCluster(world);
    return new ClusterSpec(base.name() + " (" + world + " local rank" + (world == 1 ? "" : "s") + ", "
        + threadsPerRank(world) + " thread" + (threadsPerRank(world) == 1 ? "" : "s") + " each)", world,
        Math.max(1, base.memoryBytes() / world), USABLE_HEAP, perRank, perRank, base.computeEfficiency(),
        base.hbmBytesPerSecond() * coreShare(world), base.intraNode(), base.interNode(),
        base.layerOverheadSeconds() / coreShare(world), coreShare(world));
  }
}
