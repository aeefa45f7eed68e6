package dev.weft.plan;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One evaluated layout: its memory per device, its step time, and the throughput numbers derived from
 * them. tokens/s = B s / step; tflopsPerDevice counts hardware FLOPs (recomputation included, as
 * Narayanan et al. 2021 report them); mfu = model FLOPs / (devices x peak x step) (Chowdhery et al. 2022,
 * "PaLM", Appendix B). {@code reason} says why an infeasible layout does not fit, else null.
 */
public record Candidate(Layout layout, MemoryModel.Breakdown memory, TimeModel.Breakdown time, boolean feasible,
                        String reason, double tokensPerSecond, double tflopsPerDevice, double mfu) {

  static Candidate of(Job job, Layout layout, ClusterSpec cluster, MemoryModel.Breakdown mem,
                      TimeModel.Breakdown time) {
    long usable = cluster.usableMemoryBytes();
    boolean fits = mem.total() <= usable;
    String reason = fits ? null : "needs " + Units.bytes(mem.total()) + " per device (stage " + mem.stage()
        + ": model states " + Units.bytes(mem.modelStates()) + ", activations "
        + Units.bytes(mem.activations() + mem.embeddingLogits() + mem.backwardScratch()) + ", buffers "
        + Units.bytes(mem.commBuffers()) + ") > " + Units.bytes(usable) + " usable";
    int n = layout.devices();
    double tps = job.tokensPerStep() / time.step();
    double tflops = time.hardwareFlops() / (n * time.step()) / 1e12;
    double mfu = time.modelFlops() / (n * cluster.peakFlops(job.precision()) * time.step());
    return new Candidate(layout, mem, time, fits, reason, tps, tflops, mfu);
  }

  /** The fields of {@code weft plan --json}, in order. */
  public Map<String, Object> toJson() {
    Map<String, Object> o = layoutJson();
    o.put("memory_bytes", memoryJson());
    o.put("feasible", feasible);
    o.put("step_time_s", time.step());
    o.put("time_s", timeJson());
    o.put("tokens_per_s", tokensPerSecond);
    o.put("tflops_per_device", tflopsPerDevice);
    o.put("mfu", mfu);
    if (reason != null) o.put("reason", reason);
    return o;
  }

  /** The layout's degrees and modes, as {@link #toJson} names them. */
  public Map<String, Object> layoutJson() {
    Map<String, Object> o = new LinkedHashMap<>();
    Layout l = layout;
    o.put("dp", l.dp());
    o.put("tp", l.tp());
    o.put("pp", l.pp());
    o.put("cp", l.cp());
    o.put("zero", l.zero());
    o.put("sp", l.sp());
    o.put("micro_batch", l.microBatch());
    o.put("schedule", l.schedule().cliName());
    o.put("virtual_stages", l.virtualStages());
    o.put("recompute", l.recompute().cliName());
    o.put("cp_algorithm", l.cpAlgorithm().cliName());
    return o;
  }

  /** Bytes on the busiest device by category, and which pipeline stage that device serves. */
  public Map<String, Object> memoryJson() {
    Map<String, Object> mem = new LinkedHashMap<>();
    mem.put("weights", memory.weights());
    mem.put("gradients", memory.gradients());
    mem.put("optimizer", memory.optimizer());
    mem.put("activations", memory.activations());
    mem.put("embedding_logits", memory.embeddingLogits());
    mem.put("backward_scratch", memory.backwardScratch());
    mem.put("comm_buffers", memory.commBuffers());
    mem.put("total", memory.total());
    mem.put("stage", memory.stage());
    return mem;
  }

  /** Seconds of one step by part (compute, bubble, exposed communication per group, optimizer). */
  public Map<String, Object> timeJson() {
    Map<String, Object> tb = new LinkedHashMap<>();
    tb.put("compute", time.compute());
    tb.put("of_which_elementwise", time.elementwise());
    tb.put("bubble", time.bubble());
    tb.put("tp_comm", time.tpComm());
    tb.put("cp_comm", time.cpComm());
    tb.put("pp_comm", time.ppComm());
    tb.put("dp_comm_exposed", time.dpCommExposed());
    tb.put("dp_comm_total", time.dpCommTotal());
    tb.put("optimizer", time.optimizer());
    return tb;
  }
}
