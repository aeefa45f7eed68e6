package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * The devices a plan runs on: memory per device, dense peak FLOP/s per precision, the fraction of that
 * peak matrix products sustain ({@code computeEfficiency}), achieved memory bandwidth (for the
 * memory-bound kernels and the optimizer step), and the two links of a node-based cluster: intra-node (NVLink) and
 * inter-node (InfiniBand, one NIC per GPU). A group of ranks stays on the intra-node link when it fits
 * in a node: with TP innermost, a group whose ranks are {@code stride} apart with {@code size} members
 * spans {@code stride * size} consecutive ranks and is intra-node iff that is at most devicesPerNode.
 *
 * <p>Presets: {@code a100-80gb} and {@code h100-80gb}, 8 GPUs per node, each figure derived from a published
 * datasheet or microbenchmark in {@link GpuBenchmarks} (the sustained matrix rate as computeEfficiency x peak,
 * achieved memory bandwidth, NVLink and per-GPU NIC bus bandwidths, the SM count and attention-kernel rate of
 * {@link Kernels}). fp32 uses the strict IEEE fp32 peak (Weft computes in fp32, not TF32).
 *
 * <p>{@code layerOverheadSeconds}: a fixed cost per layer per micro-batch (forward and backward) beyond
 * FLOPs and bytes: kernel launches, thread hand-offs. 0 for the GPU presets; calibrated for a CPU
 * ({@link Calibration}), where Weft's small models run many short kernels.
 *
 * <p>{@code deviceShare}: the fraction of its compute each device gets while all of them are busy, when
 * devices share processors (local ranks on fewer cores than they have threads, {@link LocalMachine}); the
 * peak and bandwidth figures are already scaled by it. 1 for chips of their own. A device that idles (a
 * pipeline stage in its bubble) then leaves its share to the others.
 */
public record ClusterSpec(String name, int devicesPerNode, long memoryBytes, double usableMemoryFraction,
                          double peakFlopsBf16, double peakFlopsFp32, double computeEfficiency,
                          double hbmBytesPerSecond, Link intraNode, Link interNode, double layerOverheadSeconds,
                          double deviceShare, Kernels kernels) {

  /**
   * The kernel-level constants of {@link TimeModel}'s GPU path, derived from microbenchmarks
   * ({@link GpuBenchmarks}): {@code sms} streaming multiprocessors over which a matrix product's output tiles
   * are dealt in waves (0: a flat matrix rate, no tile or wave quantization and no memory roofline: a calibrated
   * CPU), and {@code attentionFlops} the sustained FLOP/s of a blockwise (flash) attention kernel (0: the
   * matrix rate).
   */
  public record Kernels(int sms, double attentionFlops) {
    /** A flat matrix rate: what a calibrated CPU has. */
    public static final Kernels FLAT = new Kernels(0, 0);

    public boolean tiled() {
      return sms > 0;
    }
  }

  /** As the canonical constructor, with a flat matrix rate ({@link Kernels#FLAT}). */
  public ClusterSpec(String name, int devicesPerNode, long memoryBytes, double usableMemoryFraction,
                     double peakFlopsBf16, double peakFlopsFp32, double computeEfficiency,
                     double hbmBytesPerSecond, Link intraNode, Link interNode, double layerOverheadSeconds,
                     double deviceShare) {
    this(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, layerOverheadSeconds, deviceShare, Kernels.FLAT);
  }

  /** Devices that own their compute ({@code deviceShare} 1: every device a chip of its own). */
  public ClusterSpec(String name, int devicesPerNode, long memoryBytes, double usableMemoryFraction, double peakFlopsBf16,
                     double peakFlopsFp32, double computeEfficiency, double hbmBytesPerSecond, Link intraNode,
                     Link interNode, double layerOverheadSeconds) {
    this(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, layerOverheadSeconds, 1.0);
  }

  /** Without a per-layer overhead (the GPU presets: kernel launches hide behind the large kernels). */
  public ClusterSpec(String name, int devicesPerNode, long memoryBytes, double usableMemoryFraction, double peakFlopsBf16,
                     double peakFlopsFp32, double computeEfficiency, double hbmBytesPerSecond, Link intraNode,
                     Link interNode) {
    this(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, 0);
  }

  /** GPU presets keep 10% of memory for the CUDA context, NCCL and allocator fragmentation (assumption). */
  public static final double PRESET_USABLE = 0.9;

  public ClusterSpec {
    if (kernels == null) kernels = Kernels.FLAT;
    if (devicesPerNode <= 0) throw new WeftInputException("--devices-per-node must be positive, got " + devicesPerNode + ".");
    if (memoryBytes <= 0) throw new WeftInputException("device memory must be positive, got " + memoryBytes + " bytes.");
    if (peakFlopsFp32 <= 0 || peakFlopsBf16 <= 0) throw new WeftInputException("device peak FLOP/s must be positive.");
  }

  /** Memory a plan may use: capacity x usableMemoryFraction (the rest: runtime context, allocator slack). */
  public long usableMemoryBytes() {
    return (long) (memoryBytes * usableMemoryFraction);
  }

  public double peakFlops(Precision p) {
    return p == Precision.BF16 ? peakFlopsBf16 : peakFlopsFp32;
  }

  /** Achievable matrix-product throughput: peak x efficiency. */
  public double achievableFlops(Precision p) {
    return peakFlops(p) * computeEfficiency;
  }

  /**
   * The link a group of {@code size} ranks, {@code stride} ranks apart, communicates over: intra-node when the
   * group fits in a node; otherwise the inter-node link with the bandwidth of the NICs its members in one node
   * own between them, k = min(size, devicesPerNode / stride) (one NIC per GPU), at most the intra-node link's.
   * A ring collective spread over k channels crosses each node boundary once per channel: nccl-tests across
   * nodes read about a node's whole NIC bandwidth as bus bandwidth (nccl-tests issue #119: 84.8 GB/s with
   * 4 x 200 Gb/s NICs per 8-GPU node), while a group with one member per node has that member's NIC.
   */
  public Link linkFor(int stride, int size) {
    if ((long) stride * size <= devicesPerNode) return intraNode;
    int k = Math.max(1, Math.min(size, devicesPerNode / Math.max(1, stride)));
    if (k == 1) return interNode;
    double bw = Math.min(intraNode.bytesPerSecond(), interNode.bytesPerSecond() * k);
    return new Link(interNode.name() + " x" + k, bw, interNode.latencySeconds());
  }

  public ClusterSpec withDevicesPerNode(int g) {
    return new ClusterSpec(name, g, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency, hbmBytesPerSecond,
        intraNode, interNode, layerOverheadSeconds, deviceShare, kernels);
  }

  public ClusterSpec withMemoryBytes(long bytes) {
    return new ClusterSpec(name, devicesPerNode, bytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, layerOverheadSeconds, deviceShare, kernels);
  }

  public ClusterSpec withComputeEfficiency(double e) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, e, hbmBytesPerSecond,
        intraNode, interNode, layerOverheadSeconds, deviceShare, kernels);
  }

  public ClusterSpec withLayerOverhead(double seconds) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, seconds, deviceShare, kernels);
  }

  /** The same devices with {@code share} of their compute while all are busy (the figures unchanged). */
  public ClusterSpec withDeviceShare(double share) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, layerOverheadSeconds, share, kernels);
  }

  public ClusterSpec withHbm(double bytesPerSecond) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        bytesPerSecond, intraNode, interNode, layerOverheadSeconds, deviceShare, kernels);
  }

  /** NVIDIA A100 80GB, 8 per node: {@link GpuBenchmarks#a100()}. */
  public static ClusterSpec a100_80gb() {
    return GpuBenchmarks.a100().cluster();
  }

  /** NVIDIA H100 SXM 80GB, 8 per node: {@link GpuBenchmarks#h100()}. */
  public static ClusterSpec h100_80gb() {
    return GpuBenchmarks.h100().cluster();
  }

  /** The preset names {@link #preset} knows. */
  public static final String PRESETS = "a100-80gb (a100), h100-80gb (h100)";

  /** A preset by name, with the given devices per node (0 keeps the preset's 8). */
  public static ClusterSpec preset(String name, int devicesPerNode) {
    ClusterSpec c = switch (name.toLowerCase(Locale.ROOT)) {
      case "a100-80gb", "a100" -> a100_80gb();
      case "h100-80gb", "h100" -> h100_80gb();
      default -> throw new WeftInputException("unknown --device '" + name
          + "'. Presets: " + PRESETS + "; or describe your devices in a JSON file and pass --device-file.");
    };
    return devicesPerNode > 0 ? c.withDevicesPerNode(devicesPerNode) : c;
  }
}
