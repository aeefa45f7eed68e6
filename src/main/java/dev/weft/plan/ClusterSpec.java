package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * The devices a plan runs on: memory per device, dense peak FLOP/s per precision, the fraction of that
 * peak large transformer matrix products reach ({@code computeEfficiency}), HBM bandwidth (for the
 * memory-bound optimizer step), and the two links of a node-based cluster: intra-node (NVLink) and
 * inter-node (InfiniBand, one NIC per GPU). A group of ranks stays on the intra-node link when it fits
 * in a node: with TP innermost, a group whose ranks are {@code stride} apart with {@code size} members
 * spans {@code stride * size} consecutive ranks and is intra-node iff that is at most devicesPerNode.
 *
 * <p>Presets (published numbers):
 * <ul>
 * <li>{@code a100-80gb}: NVIDIA A100 Tensor Core GPU datasheet (2021): 312 TFLOP/s bf16/fp16 dense,
 *     19.5 TFLOP/s fp32 (156 TF32), 80 GB HBM2e at 2,039 GB/s, NVLink 600 GB/s total bidirectional per
 *     GPU. DGX A100 user guide: 8 GPUs per node, 8 x 200 Gb/s HDR InfiniBand (one per GPU).
 * <li>{@code h100-80gb}: NVIDIA H100 Tensor Core GPU datasheet (SXM5): 989 TFLOP/s bf16 dense,
 *     67 TFLOP/s fp32, 80 GB HBM3 at 3.35 TB/s, NVLink 900 GB/s bidirectional. DGX H100: 8 GPUs,
 *     8 x 400 Gb/s NDR InfiniBand.
 * </ul>
 * Bus bandwidth: NVLink's figure counts both directions, and ring collectives move data one way per
 * link, so we use half (300 GB/s A100, 450 GB/s H100) times {@code linkEfficiency} 0.8 (nccl-tests on
 * DGX systems report large-message all-reduce bus bandwidth near 80% of the per-direction figure; an
 * assumption, not a measurement of ours). InfiniBand: 200 Gb/s = 25 GB/s (A100), 400 Gb/s = 50 GB/s
 * (H100) per GPU, times the same 0.8. Latencies (5 us NVLink, 10 us InfiniBand per ring step) are
 * assumed typical values. computeEfficiency is the one fitted constant: see {@link PublishedResults}.
 * fp32 uses the strict IEEE fp32 peak (Weft computes in fp32, not TF32).
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
                          double deviceShare) {

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

  public static final double LINK_EFFICIENCY = 0.8;
  /** GPU presets keep 10% of memory for the CUDA context, NCCL and allocator fragmentation (assumption). */
  public static final double PRESET_USABLE = 0.9;
  private static final long GIB = 1L << 30;

  public ClusterSpec {
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

  /** The link a group of {@code size} ranks, {@code stride} ranks apart, communicates over. */
  public Link linkFor(int stride, int size) {
    return (long) stride * size <= devicesPerNode ? intraNode : interNode;
  }

  public ClusterSpec withDevicesPerNode(int g) {
    return new ClusterSpec(name, g, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency, hbmBytesPerSecond,
        intraNode, interNode, layerOverheadSeconds, deviceShare);
  }

  public ClusterSpec withMemoryBytes(long bytes) {
    return new ClusterSpec(name, devicesPerNode, bytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, layerOverheadSeconds, deviceShare);
  }

  public ClusterSpec withComputeEfficiency(double e) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, e, hbmBytesPerSecond,
        intraNode, interNode, layerOverheadSeconds, deviceShare);
  }

  public ClusterSpec withLayerOverhead(double seconds) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, seconds, deviceShare);
  }

  /** The same devices with {@code share} of their compute while all are busy (the figures unchanged). */
  public ClusterSpec withDeviceShare(double share) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        hbmBytesPerSecond, intraNode, interNode, layerOverheadSeconds, share);
  }

  public ClusterSpec withHbm(double bytesPerSecond) {
    return new ClusterSpec(name, devicesPerNode, memoryBytes, usableMemoryFraction, peakFlopsBf16, peakFlopsFp32, computeEfficiency,
        bytesPerSecond, intraNode, interNode, layerOverheadSeconds, deviceShare);
  }

  /** Efficiency of large bf16 GEMMs on A100/H100 within a full training step; fitted, see PublishedResults. */
  public static final double GPU_EFFICIENCY = 0.70;

  public static ClusterSpec a100_80gb() {
    return new ClusterSpec("a100-80gb", 8, 80 * GIB, PRESET_USABLE, 312e12, 19.5e12, GPU_EFFICIENCY, 2039e9,
        new Link("NVLink3", 300e9 * LINK_EFFICIENCY, 5e-6),
        new Link("HDR InfiniBand", 25e9 * LINK_EFFICIENCY, 10e-6));
  }

  public static ClusterSpec h100_80gb() {
    return new ClusterSpec("h100-80gb", 8, 80 * GIB, PRESET_USABLE, 989e12, 67e12, GPU_EFFICIENCY, 3350e9,
        new Link("NVLink4", 450e9 * LINK_EFFICIENCY, 5e-6),
        new Link("NDR InfiniBand", 50e9 * LINK_EFFICIENCY, 10e-6));
  }

  /** A preset by name, with the given devices per node (0 keeps the preset's 8). */
  public static ClusterSpec preset(String name, int devicesPerNode) {
    ClusterSpec c = switch (name.toLowerCase(Locale.ROOT)) {
      case "a100-80gb", "a100" -> a100_80gb();
      case "h100-80gb", "h100" -> h100_80gb();
      default -> throw new WeftInputException("unknown --device '" + name
          + "'. Presets: a100-80gb, h100-80gb; or describe your devices in a JSON file and pass --device-file.");
    };
    return devicesPerNode > 0 ? c.withDevicesPerNode(devicesPerNode) : c;
  }
}
