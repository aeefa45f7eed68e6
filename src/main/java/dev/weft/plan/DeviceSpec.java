package dev.weft.plan;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.weft.WeftInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A measured (or hand-written) description of local devices, as a JSON file, e.g.
 * <pre>{ "name": "my-laptop", "memory_bytes": 8589934592, "fp32_gflops": 150.0,
 *   "intra_node_gbps": 10.0, "intra_node_latency_us": 20.0,
 *   "inter_node_gbps": 1.0, "inter_node_latency_us": 100.0,
 *   "devices_per_node": 2, "bf16_gflops": 150.0, "compute_efficiency": 1.0, "hbm_gbps": 20.0 }</pre>
 * Bandwidths are GB/s (1e9 bytes/s) per direction per device, as a collective benchmark reports bus
 * bandwidth (e.g. {@code weft bench comm}); fp32_gflops is measured matrix-product throughput, so
 * compute_efficiency defaults to 1. The last four fields are optional (defaults: devices_per_node 1,
 * bf16 = fp32, efficiency 1, hbm 20 GB/s). A calibration of this machine ({@code weft plan --calibrate},
 * {@link Calibration}) also writes {@code cores}, {@code gflops_by_threads} (matrix-product GFLOP/s per
 * rank by its compute threads; {@link LocalMachine} uses them for ranks sharing cores), a
 * compute_efficiency and {@code layer_overhead_us} (per layer per micro-batch, see
 * {@link ClusterSpec#layerOverheadSeconds}) fitted to training steps, and a {@code calibration} object with the raw
 * measurements. Produced via {@link #measured} and {@link #write}, read with {@link #load}.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record DeviceSpec(
    @JsonProperty("name") String name,
    @JsonProperty("memory_bytes") long memoryBytes,
    @JsonProperty("fp32_gflops") double fp32Gflops,
    @JsonProperty("intra_node_gbps") double intraNodeGBps,
    @JsonProperty("intra_node_latency_us") double intraNodeLatencyUs,
    @JsonProperty("inter_node_gbps") double interNodeGBps,
    @JsonProperty("inter_node_latency_us") double interNodeLatencyUs,
    @JsonProperty("devices_per_node") Integer devicesPerNode,
    @JsonProperty("bf16_gflops") Double bf16Gflops,
    @JsonProperty("compute_efficiency") Double computeEfficiency,
    @JsonProperty("hbm_gbps") Double hbmGBps,
    @JsonProperty("cores") Integer cores,
    @JsonProperty("gflops_by_threads") java.util.Map<String, Double> gflopsByThreads,
    @JsonProperty("layer_overhead_us") Double layerOverheadUs,
    @JsonProperty("calibration") java.util.Map<String, Object> calibration) {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .setSerializationInclusion(JsonInclude.Include.NON_NULL);

  /** From measurements: memory, fp32 matmul GFLOP/s, and the two links' bandwidth (GB/s) and latency (us). */
  public static DeviceSpec measured(String name, long memoryBytes, double fp32Gflops, double intraGBps,
                                    double intraLatencyUs, double interGBps, double interLatencyUs, int devicesPerNode) {
    return new DeviceSpec(name, memoryBytes, fp32Gflops, intraGBps, intraLatencyUs, interGBps, interLatencyUs,
        devicesPerNode, null, 1.0, null, null, null, null, null);
  }

  /** The same spec with the local-machine fields of a calibration ({@link Calibration}). */
  public DeviceSpec withLocal(int cores, java.util.Map<String, Double> gflopsByThreads, double computeEfficiency,
                              double hbmGBps, double layerOverheadUs, java.util.Map<String, Object> calibration) {
    return new DeviceSpec(name, memoryBytes, fp32Gflops, intraNodeGBps, intraNodeLatencyUs, interNodeGBps,
        interNodeLatencyUs, devicesPerNode, bf16Gflops, computeEfficiency, hbmGBps, cores,
        gflopsByThreads == null ? null : new java.util.TreeMap<>(gflopsByThreads), layerOverheadUs, calibration);
  }

  /**
   * Matrix-product GFLOP/s with {@code threads} threads: the measured figure for that count
   * ({@code gflops_by_threads}), else the nearest measured count scaled linearly, else fp32_gflops.
   */
  public double gflopsFor(int threads) {
    if (gflopsByThreads == null || gflopsByThreads.isEmpty()) return fp32Gflops;
    Double exact = gflopsByThreads.get(Integer.toString(threads));
    if (exact != null) return exact;
    int best = -1;
    for (String k : gflopsByThreads.keySet()) {
      int n = Integer.parseInt(k.trim());
      if (best < 0 || Math.abs(n - threads) < Math.abs(best - threads)) best = n;
    }
    return gflopsByThreads.get(Integer.toString(best)) * threads / best;
  }

  public static DeviceSpec load(Path file) {
    DeviceSpec d;
    try {
      d = JSON.readValue(Files.readString(file), DeviceSpec.class);
    } catch (IOException e) {
      throw new WeftInputException("cannot read the device file " + file + ": " + e.getMessage()
          + ". It must be JSON with memory_bytes, fp32_gflops, intra_node_gbps, intra_node_latency_us, "
          + "inter_node_gbps, inter_node_latency_us (see DeviceSpec).", e);
    }
    d.check(file.toString());
    return d;
  }

  public void write(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) Files.createDirectories(parent);
    Files.writeString(file, JSON.writeValueAsString(this));
  }

  private void check(String where) {
    if (gflopsByThreads != null) {
      for (var e : gflopsByThreads.entrySet()) {
        try {
          if (Integer.parseInt(e.getKey().trim()) < 1 || e.getValue() == null || !(e.getValue() > 0)) {
            throw new NumberFormatException();
          }
        } catch (NumberFormatException x) {
          throw new WeftInputException("the device file " + where + " has a bad gflops_by_threads entry "
              + e.getKey() + ": " + e.getValue() + "; keys are thread counts >= 1, values positive GFLOP/s.");
        }
      }
    }
    if (memoryBytes <= 0 || fp32Gflops <= 0 || intraNodeGBps <= 0 || interNodeGBps <= 0) {
      throw new WeftInputException("the device file " + where + " needs positive memory_bytes, fp32_gflops, "
          + "intra_node_gbps and inter_node_gbps; got " + this + ".");
    }
  }

  /** The cluster these devices form; devicesPerNode > 0 overrides the file's. */
  public ClusterSpec toCluster(int devicesPerNodeOverride) {
    check(name == null ? "(device spec)" : name);
    int g = devicesPerNodeOverride > 0 ? devicesPerNodeOverride : (devicesPerNode == null ? 1 : devicesPerNode);
    double fp32 = fp32Gflops * 1e9;
    double bf16 = bf16Gflops == null ? fp32 : bf16Gflops * 1e9;
    double eff = computeEfficiency == null ? 1.0 : computeEfficiency;
    double hbm = hbmGBps == null ? 20e9 : hbmGBps * 1e9;
    return new ClusterSpec(name == null ? "device-file" : name, g, memoryBytes, 1.0, bf16, fp32, eff, hbm,
        new Link("intra-node", intraNodeGBps * 1e9, intraNodeLatencyUs * 1e-6),
        new Link("inter-node", interNodeGBps * 1e9, interNodeLatencyUs * 1e-6),
        layerOverheadUs == null ? 0 : layerOverheadUs * 1e-6);
  }
}
