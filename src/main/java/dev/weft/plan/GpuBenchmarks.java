package dev.weft.plan;

/**
 * Published device specifications and microbenchmarks of a GPU, and the device-level constants of
 * {@link TimeModel} derived from them ({@link #cluster()}). These are the planner's only GPU inputs: no
 * published training run (the anchors of {@link PublishedResults}) enters them, which
 * PublishedResultsTest checks.
 *
 * <p>The constants, each from its inputs:
 * <ul>
 * <li>sustained matrix rate = MAMF x (sustained / burst): the best measured bf16 GEMM (Bekman, "Machine
 *     Learning Engineering", compute/accelerator, "Maximum Achievable Matmul FLOPS comparison table": A100 SXM
 *     267.9 TFLOP/s, H100 SXM 792.1, CUDA 12.1) is a short burst at boost clock; under a training step's
 *     sustained load the clock settles lower. The same benchmark's sustained mode on a node with all 8 GPUs busy
 *     (compute/accelerator/benchmarks, "alone vs all-8 concurrent", H200, a Hopper die like H100's) read
 *     698.6 TFLOP/s against a 823.9 burst: 0.848, taken for both devices (an assumption for A100);
 *     {@code computeEfficiency} = that rate / the datasheet peak;
 * <li>the GEMM shape curve: the output is cut into tiles of 128 x 256, 256 x 128 or 128 x 128 (whichever wastes
 *     least) dealt to the SMs in waves (NVIDIA, "Matrix Multiplication Background User's Guide", tile and wave
 *     quantization); 108 SMs on A100, 132 on H100 SXM (NVIDIA A100 and H100 whitepapers); and a product can be no
 *     faster than moving its operands and result through memory (roofline);
 * <li>memory-bound kernels at the datasheet bandwidth x 1727/1935 = 0.893 (a PyTorch copy benchmark on an A800
 *     80GB, the A100's memory system: 1727 GB/s of 1935, mli/transformers-benchmarks issue #4), taken for both;
 * <li>blockwise attention (FlashAttention-2, Dao 2023, section 4.1): the backward (2.5 of its 3.5 parts) up to 196
 *     TFLOP/s on A100 (Fig. 6b, head dim 128), forward+backward up to 335 on H100 (Fig. 7); bursts: x 0.848 as the GEMMs;
 * <li>NVLink: nccl-tests all_reduce_perf on 8 x A100-SXM4-80GB reads a bus bandwidth of about 200 GB/s (NVIDIA
 *     nccl-tests issues #149, "~200 GB/s", and #178, 208 GB/s): 2/3 of NVLink3's 300 GB/s per direction; H100
 *     is taken at the same 2/3 of NVLink4's 450 (an assumption); 5 us per ring step (assumed);
 * <li>the inter-node link per GPU (one NIC each): nccl-tests across 3 nodes of 8 A100s on HDR InfiniBand read
 *     84.8 GB/s of the 100 GB/s line rate per GPU-share (nccl-tests issue #119): 0.848 of line rate, so
 *     25 GB/s x 0.848 per HDR NIC (A100) and 50 GB/s x 0.848 per 400 Gb/s NIC (H100, Llama 3's RoCE and NDR);
 *     10 us per ring step (assumed; Dubey et al. 2024 section 3.3.3 report "tens of microseconds" only across
 *     pods).
 * </ul>
 *
 * @param mamf best measured bf16 matrix FLOP/s (burst)
 * @param sustainedOverBurst the sustained matrix rate over the burst one
 * @param memoryFraction achieved over datasheet memory bandwidth
 * @param attentionFlops FlashAttention-2 forward+backward FLOP/s (burst)
 * @param nvlinkBusBytes NVLink all-reduce bus bandwidth, bytes/s
 * @param nicBytes one NIC's line rate, bytes/s
 * @param nicFraction achieved over line rate for inter-node collectives
 */
public record GpuBenchmarks(String name, long memoryBytes, double peakBf16, double peakFp32, int sms, double hbmBytes,
                            double mamf, double sustainedOverBurst, double memoryFraction, double attentionFlops,
                            String nvlinkName, double nvlinkBusBytes, double nvlinkLatency, String nicName,
                            double nicBytes, double nicFraction, double nicLatency) {
  private static final long GIB = 1L << 30;

  /** Bekman's sustained (all 8 GPUs busy, H200) over burst matrix rate: 698.6 / 823.9. */
  public static final double SUSTAINED_OVER_BURST = 698.6 / 823.9;
  /** Achieved copy bandwidth over the datasheet's (A800 80GB): 1727 / 1935. */
  public static final double MEMORY_FRACTION = 1727.0 / 1935.0;
  /** Inter-node all-reduce over line rate (3 x 8 A100, HDR): 84.8 / 100. */
  public static final double NIC_FRACTION = 84.8 / 100;

  /** A100 SXM4 80GB in a DGX A100 (datasheet: 312 TFLOP/s bf16, 19.5 fp32, 2,039 GB/s; 8 HDR NICs). */
  public static GpuBenchmarks a100() {
    return new GpuBenchmarks("a100-80gb", 80 * GIB, 312e12, 19.5e12, 108, 2039e9, 267.9e12, SUSTAINED_OVER_BURST,
        MEMORY_FRACTION, 196e12, "NVLink3", 200e9, 5e-6, "HDR InfiniBand", 25e9, NIC_FRACTION, 10e-6);
  }

  /** H100 SXM5 80GB in a DGX H100 / Grand Teton (datasheet: 989 TFLOP/s bf16, 67 fp32, 3,350 GB/s; 400 Gb/s NICs). */
  public static GpuBenchmarks h100() {
    return new GpuBenchmarks("h100-80gb", 80 * GIB, 989e12, 67e12, 132, 3350e9, 792.1e12, SUSTAINED_OVER_BURST,
        MEMORY_FRACTION, 335e12, "NVLink4", 450e9 * 2 / 3, 5e-6, "400G NDR/RoCE", 50e9, NIC_FRACTION, 10e-6);
  }

  /** The cluster of 8-GPU nodes these measurements describe (class comment). */
  public ClusterSpec cluster() {
    double sustained = mamf * sustainedOverBurst;
    return new ClusterSpec(name, 8, memoryBytes, ClusterSpec.PRESET_USABLE, peakBf16, peakFp32, sustained / peakBf16,
        hbmBytes * memoryFraction, new Link(nvlinkName, nvlinkBusBytes, nvlinkLatency),
        new Link(nicName, nicBytes * nicFraction, nicLatency), 0, 1.0,
        new ClusterSpec.Kernels(sms, attentionFlops * sustainedOverBurst));
  }
}
