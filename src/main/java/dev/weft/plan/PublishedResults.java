package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Published training runs, each reproduced by its paper's own accounting: the planner predicts the step time
 * of the published setup (device, GPU count, global batch, the published degrees, recomputation, sequence
 * parallelism, ZeRO, schedule, software), free only where the paper did not publish a knob (then the
 * planner's best choice, named per case: usually the micro-batch, and virtual stages), and the paper's metric
 * is computed from that time with the paper's FLOP formula ({@link Formula}). The constants behind the
 * prediction come from microbenchmarks alone ({@link GpuBenchmarks}); none of these values enters them.
 *
 * <p>Sources (table and page beside each figure below):
 * <ul>
 * <li>Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM"
 *     (SC '21, arXiv 2104.04473): Table 1 (p. 8), weak scaling on A100 80GB DGX nodes, fp16 mixed precision,
 *     full recomputation, sequence 2048, vocabulary 51200, teraFLOP/s per GPU by equation 3 (section 5.1,
 *     p. 8); Table 2 (p. 9), ZeRO-3 without model parallelism against PTD parallelism (values as transcribed in
 *     cli99/llm-analysis, examples/megatron-lm/run_train*.sh, with the micro-batches of the table's note).
 *     Megatron-LM of 2021 all-reduces data-parallel gradients after the pipeline flush (not overlapped) and
 *     materializes attention scores (section 4.2's fused scale-mask-softmax kernel).
 * <li>Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models" (arXiv
 *     2205.05198): model FLOPs utilization with sequence parallelism and selective recomputation, data-parallel
 *     size one, as the Megatron-LM README's table reports it (22B 41.5%, 175B 51.4%, 530B 56.0%, 1T 56.3%) on the
 *     configurations of the paper's Table 3 (tp 8; pp 1, 8, 35, 64; GPUs = tp x pp; global batch 4, 64, 280, 512);
 *     and the abstract (p. 1): 530B on 2240 A100s, MFU 54.2% with both techniques, 42.1% with full recomputation
 *     (global batch unpublished: the planner keeps Table 3's 280 micro-batches per pipeline, 2240). MFU by the
 *     paper's Appendix A: 72 B s L h^2 (1 + s/(6h) + V/(12 L h)) / (GPUs x 312 TFLOP/s x time).
 * <li>Smith et al. 2022, "Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B" (arXiv 2201.11990),
 *     section 2.4 (p. 7-8): tp 8, pp 35, global batch 1920, sequence 2048, on 280, 350 and 420 DGX A100 nodes,
 *     iterations of 60.1, 50.2 and 44.4 s, i.e. 126, 121 and 113 teraFLOP/s per GPU (equation 3 of Narayanan
 *     reproduces them from the iteration times). DeepSpeed's pipeline engine: 1F1B without interleaving,
 *     gradients reduced after the last micro-batch, whole activations sent between stages.
 * <li>Dubey et al. 2024, "The Llama 3 Herd of Models" (arXiv 2407.21783): Table 4 (p. 10), Llama 3 405B on H100
 *     80GB (Grand Teton, 8 per server, 400 Gb/s per GPU; section 3.3.1): 8,192 GPUs, TP 8, CP 1, PP 16, DP 64,
 *     sequence 8,192, 32 sequences per DP group, 430 TFLOP/s, BF16 MFU 43%; 16,384 GPUs, DP 128, 16 per group,
 *     400, 41%; 16,384 GPUs, TP 8, CP 16, PP 16, DP 8, sequence 131,072, 16 per group, 380, 38%. Section 3.3.2:
 *     FSDP sharding optimizer states and gradients, weights not resharded after forward (so gathered once per
 *     step: ZeRO-1's traffic), gradients reduce-scattered in fp32, interleaved pipeline, no activation
 *     checkpointing at 8K, all-gather context parallelism; the model of Table 3 (p. 8): 126 layers, 16,384 wide,
 *     FFN 53,248, 128 heads, 8 key/value heads, vocabulary 128K. MFU as Chowdhery et al. 2022 (PaLM), Appendix
 *     B, define it: (6 N + 12 L h s) per token over GPUs x 989 TFLOP/s x time (the attention term without the
 *     causal half).
 * <li>torchtitan (PyTorch), docs/performance.md, "Llama 3 performance numbers": Llama 3 8B and 70B with FSDP2
 *     on 64 A100 80GB, local batch 1, sequence 8192 (train_configs/llama3_8b.toml and llama3_70b.toml, which also
 *     show PyTorch eager: norm_type "rmsnorm", compile false); 8B with every other layer recomputed 56.8% MFU, 70B
 *     with full recomputation 51.7%, by its train.py's (6 N + 12 L h s) per token over 312 TFLOP/s (PaLM's
 *     formula: 2973 tokens/s of the 8B is 58.2% with N its 8.03 billion parameters). Eager memory-bound kernels
 *     ({@link Software.Elementwise#EAGER}) explain about half of what a fused stack's prediction overshoots
 *     (8B: +16.7% fused, +8.6% eager; 70B: +7.8%, +3.5%).
 * </ul>
 *
 * <p>What the model does not explain (printed, and bounded loosely or not at all in PublishedResultsTest):
 * DeepSpeed ZeRO-3 in Table 2 of Narayanan: its step stays at about four fp16 passes of the parameters through
 * one 200 Gb/s NIC per GPU as the GPUs double, while nccl-tests show a ring over whole nodes using all of a
 * node's NICs (the bandwidth this model gives such a group), so the model predicts it 1.5-4.7x too fast;
 * MT-NLG, where DeepSpeed's pipeline engine reached 126 teraFLOP/s against Megatron-LM's 163 for the same model
 * on the same GPUs (Table 1): +20 to +26%; Llama 3 at 128K, whose recomputation and attention kernel are
 * unpublished (FlashAttention-2's H100 rate and the recomputation that fits are assumed): -16%.
 */
public final class PublishedResults {
  private PublishedResults() {
  }

  /** A paper's FLOP accounting: how its reported metric follows from a step time. */
  public enum Formula {
    /** Narayanan et al. 2021, eq. 3: 96 B s L h^2 (1 + s/(6h) + V/(16 L h)) / (GPUs x time), teraFLOP/s. */
    NARAYANAN_EQ3("TFLOP/s", "eq. 3: 96 B s L h^2 (1 + s/6h + V/16Lh)"),
    /** Korthikanti et al. 2022, Appendix A: 72 B s L h^2 (1 + s/(6h) + V/(12 L h)) / (GPUs x peak x time). */
    KORTHIKANTI_MFU("MFU", "App. A: 72 B s L h^2 (1 + s/6h + V/12Lh)"),
    /** Chowdhery et al. 2022, Appendix B: (6 N + 12 L h s) B s / (GPUs x peak x time). */
    PALM_MFU("MFU", "PaLM App. B: (6N + 12 L h s) per token");

    public final String unit;
    public final String description;

    Formula(String unit, String description) {
      this.unit = unit;
      this.description = description;
    }

    /** The metric for a step of {@code seconds} on {@code gpus} devices of peak {@code peak} FLOP/s. */
    public double metric(ModelDims m, int globalBatch, int gpus, double peak, double seconds) {
      double B = globalBatch, s = m.seq(), L = m.layers(), h = m.hidden(), V = m.vocab();
      return switch (this) {
        case NARAYANAN_EQ3 -> 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h)) / (gpus * seconds) / 1e12;
        case KORTHIKANTI_MFU -> 72 * B * s * L * h * h * (1 + s / (6 * h) + V / (12 * L * h)) / (gpus * peak * seconds);
        case PALM_MFU -> (6.0 * m.parameterCount() + 12 * L * h * s) * B * s / (gpus * peak * seconds);
      };
    }
  }

  /**
   * One published run and its setup. {@code microBatch} and {@code recompute} null leave the planner free (the
   * paper did not publish them); {@code sp} null likewise; {@code schedules} are the schedules the software had;
   * {@code alternateLayers}: {@code recompute} covers every other layer only (torchtitan's "selective layer"
   * checkpointing), so the step is the mean of the steps without recomputation and with it on every layer
   * (every cost but memory is a sum over layers).
   */
  public record Published(String source, String where, String model, ModelDims shape, String device, int gpus,
                          int globalBatch, int tp, int pp, int cp, Recompute recompute, Boolean sp, int zero,
                          Integer microBatch, Set<Schedule> schedules, CpAlgorithm cpAlgorithm, Software software,
                          Formula formula, double value, boolean alternateLayers) {
    /** A run whose recomputation, when any, covers every layer. */
    public Published(String source, String where, String model, ModelDims shape, String device, int gpus,
                     int globalBatch, int tp, int pp, int cp, Recompute recompute, Boolean sp, int zero,
                     Integer microBatch, Set<Schedule> schedules, CpAlgorithm cpAlgorithm, Software software,
                     Formula formula, double value) {
      this(source, where, model, shape, device, gpus, globalBatch, tp, pp, cp, recompute, sp, zero, microBatch,
          schedules, cpAlgorithm, software, formula, value, false);
    }

    public int dp() {
      return gpus / (tp * pp * cp);
    }

    public String label() {
      return source + " " + model + " on " + gpus;
    }
  }

  public record Comparison(Published published, Candidate predicted, double predictedValue, double relativeError) {
  }

  static final String NARAYANAN = "Narayanan 2021";
  static final String KORTHIKANTI = "Korthikanti 2022";
  static final String SMITH = "Smith 2022 (MT-NLG)";
  static final String DUBEY = "Dubey 2024 (Llama 3)";

  /** Megatron-LM 2021-22: materialized attention, gradients all-reduced after the pipeline flush, scatter/gather. */
  static final Software MEGATRON = new Software(AttentionKernel.MATERIALIZED, false, 0, true);
  /** DeepSpeed ZeRO-3 (Narayanan Table 2): gathers prefetched under compute, Megatron's GPT kernels. */
  static final Software DEEPSPEED_ZERO = new Software(AttentionKernel.MATERIALIZED, true, 0, true);
  /** DeepSpeed's pipeline engine with Megatron's tensor slicing (MT-NLG). */
  static final Software DEEPSPEED_PIPE = new Software(AttentionKernel.MATERIALIZED, false, 0, false);
  /** Llama 3's stack: FlashAttention, FSDP prefetching and reducing asynchronously, fp32 reduce-scatter. */
  static final Software LLAMA3 = new Software(AttentionKernel.FLASH, true, 4, true);
  /**
   * torchtitan of 2024 (train_configs/llama3_8b.toml, llama3_70b.toml: norm_type "rmsnorm", compile false): PyTorch
   * eager, FlashAttention through scaled_dot_product_attention, FSDP2 prefetching, fp32 gradient reduction.
   */
  static final Software TORCHTITAN = new Software(AttentionKernel.FLASH, true, 4, true, Software.Elementwise.EAGER);
  static final String TITAN = "torchtitan 2024";

  static final Set<Schedule> MEGATRON_SCHEDULES = EnumSet.of(Schedule.ONE_F_ONE_B, Schedule.INTERLEAVED);
  static final Set<Schedule> ONE_F_ONE_B = EnumSet.of(Schedule.ONE_F_ONE_B);
  static final Set<Schedule> INTERLEAVED = EnumSet.of(Schedule.INTERLEAVED);

  private static ModelDims gpt(String name, int layers, int h, int heads) {
    return PlanModels.gpt(name, layers, h, heads, 2048, 51200);
  }

  public static List<Published> all() {
    List<Published> p = new ArrayList<>();
    Recompute f = Recompute.FULL, sel = Recompute.SELECTIVE;
    Formula eq3 = Formula.NARAYANAN_EQ3;
    String a100 = "a100-80gb", h100 = "h100-80gb";
    // Narayanan et al. 2021, Table 1 (p. 8): model, heads, hidden, layers, tp, pp, GPUs, batch, TFLOP/s per GPU.
    String t1 = "Table 1, p. 8";
    p.add(new Published(NARAYANAN, t1, "1.7B", gpt("1.7B", 24, 2304, 24), a100, 32, 512, 1, 1, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 137));
    p.add(new Published(NARAYANAN, t1, "3.6B", gpt("3.6B", 30, 3072, 32), a100, 64, 512, 2, 1, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 138));
    p.add(new Published(NARAYANAN, t1, "7.5B", gpt("7.5B", 36, 4096, 32), a100, 128, 512, 4, 1, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 142));
    p.add(new Published(NARAYANAN, t1, "18.4B", gpt("18.4B", 40, 6144, 48), a100, 256, 1024, 8, 1, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 135));
    p.add(new Published(NARAYANAN, t1, "39.1B", gpt("39.1B", 48, 8192, 64), a100, 512, 1536, 8, 2, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 138));
    p.add(new Published(NARAYANAN, t1, "76.1B", gpt("76.1B", 60, 10240, 80), a100, 1024, 1792, 8, 4, 1, f, false, 0,
        null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 140));
    p.add(new Published(NARAYANAN, t1, "145.6B", gpt("145.6B", 80, 12288, 96), a100, 1536, 2304, 8, 8, 1, f, false, 0,
        null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 148));
    p.add(new Published(NARAYANAN, t1, "310.1B", gpt("310.1B", 96, 16384, 128), a100, 1920, 2160, 8, 16, 1, f, false,
        0, null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 155));
    p.add(new Published(NARAYANAN, t1, "529.6B", gpt("529.6B", 105, 20480, 128), a100, 2520, 2520, 8, 35, 1, f, false,
        0, null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 163));
    p.add(new Published(NARAYANAN, t1, "1008B", gpt("1008B", 128, 25600, 160), a100, 3072, 3072, 8, 64, 1, f, false, 0,
        null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 163));
    // Narayanan et al. 2021, Table 2 (p. 9): ZeRO-3 without model parallelism (micro-batch 4, 2, 1 as the GPUs
    // double at a fixed batch; the 530B row at 640 GPUs uses batch 2560, the table's starred row).
    String t2 = "Table 2, p. 9";
    ModelDims g175 = gpt("174.6B", 96, 12288, 96), g530 = gpt("529.6B", 105, 20480, 128);
    p.add(new Published(NARAYANAN, t2, "174.6B ZeRO-3", g175, a100, 384, 1536, 1, 1, 1, f, false, 3, 4, ONE_F_ONE_B,
        CpAlgorithm.RING, DEEPSPEED_ZERO, eq3, 144));
    p.add(new Published(NARAYANAN, t2, "174.6B ZeRO-3", g175, a100, 768, 1536, 1, 1, 1, f, false, 3, 2, ONE_F_ONE_B,
        CpAlgorithm.RING, DEEPSPEED_ZERO, eq3, 88));
    p.add(new Published(NARAYANAN, t2, "174.6B ZeRO-3", g175, a100, 1536, 1536, 1, 1, 1, f, false, 3, 1, ONE_F_ONE_B,
        CpAlgorithm.RING, DEEPSPEED_ZERO, eq3, 44));
    p.add(new Published(NARAYANAN, t2, "529.6B ZeRO-3", g530, a100, 640, 2560, 1, 1, 1, f, false, 3, 4, ONE_F_ONE_B,
        CpAlgorithm.RING, DEEPSPEED_ZERO, eq3, 138));
    p.add(new Published(NARAYANAN, t2, "529.6B ZeRO-3", g530, a100, 1120, 2240, 1, 1, 1, f, false, 3, 2, ONE_F_ONE_B,
        CpAlgorithm.RING, DEEPSPEED_ZERO, eq3, 98));
    p.add(new Published(NARAYANAN, t2, "529.6B ZeRO-3", g530, a100, 2240, 2240, 1, 1, 1, f, false, 3, 1, ONE_F_ONE_B,
        CpAlgorithm.RING, DEEPSPEED_ZERO, eq3, 48));
    // Table 2's PTD rows: tp 8, pp 12 (175B) and pp 35 (530B).
    p.add(new Published(NARAYANAN, t2, "174.6B PTD", g175, a100, 384, 1536, 8, 12, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 153));
    p.add(new Published(NARAYANAN, t2, "174.6B PTD", g175, a100, 768, 1536, 8, 12, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 149));
    p.add(new Published(NARAYANAN, t2, "174.6B PTD", g175, a100, 1536, 1536, 8, 12, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 141));
    p.add(new Published(NARAYANAN, t2, "529.6B PTD", g530, a100, 560, 2240, 8, 35, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 171));
    p.add(new Published(NARAYANAN, t2, "529.6B PTD", g530, a100, 1120, 2240, 8, 35, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 167));
    p.add(new Published(NARAYANAN, t2, "529.6B PTD", g530, a100, 2240, 2240, 8, 35, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, eq3, 159));
    // Korthikanti et al. 2022: README MFU (dp = 1) on Table 3's configurations; abstract (p. 1) for 530B on 2240.
    Formula kmfu = Formula.KORTHIKANTI_MFU;
    String readme = "Megatron-LM README MFU table; Table 3 setups";
    p.add(new Published(KORTHIKANTI, readme, "22B sp+sel", gpt("22B", 48, 6144, 64), a100, 8, 4, 8, 1, 1, sel, true, 0,
        null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, kmfu, 0.415));
    p.add(new Published(KORTHIKANTI, readme, "175B sp+sel", gpt("175B", 96, 12288, 96), a100, 64, 64, 8, 8, 1, sel, true,
        0, null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, kmfu, 0.514));
    p.add(new Published(KORTHIKANTI, readme, "530B sp+sel", g530, a100, 280, 280, 8, 35, 1, sel, true, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, kmfu, 0.560));
    p.add(new Published(KORTHIKANTI, readme, "1T sp+sel", gpt("1T", 128, 25600, 160), a100, 512, 512, 8, 64, 1, sel, true,
        0, null, MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, kmfu, 0.563));
    String abs = "abstract, p. 1";
    p.add(new Published(KORTHIKANTI, abs, "530B sp+sel", g530, a100, 2240, 2240, 8, 35, 1, sel, true, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, kmfu, 0.542));
    p.add(new Published(KORTHIKANTI, abs, "530B full", g530, a100, 2240, 2240, 8, 35, 1, f, false, 0, null,
        MEGATRON_SCHEDULES, CpAlgorithm.RING, MEGATRON, kmfu, 0.421));
    // Smith et al. 2022, section 2.4 (p. 7-8): MT-NLG 530B, tp 8, pp 35, batch 1920.
    String s24 = "section 2.4, p. 7-8";
    for (int[] run : new int[][] {{2240, 126}, {2800, 121}, {3360, 113}}) {
      p.add(new Published(SMITH, s24, "530B", g530, a100, run[0], 1920, 8, 35, 1, f, false, 0, null, ONE_F_ONE_B,
          CpAlgorithm.RING, DEEPSPEED_PIPE, eq3, run[1]));
    }
    // Dubey et al. 2024, Table 4 (p. 10): Llama 3 405B; global batch = DP x batch size per DP group.
    ModelDims llama = PlanModels.preset("llama3-405b");
    Formula palm = Formula.PALM_MFU;
    String t4 = "Table 4, p. 10";
    p.add(new Published(DUBEY, t4, "405B 8K", llama, h100, 8192, 64 * 32, 8, 16, 1, Recompute.NONE, null, 1, null,
        INTERLEAVED, CpAlgorithm.ALL_GATHER, LLAMA3, palm, 0.43));
    p.add(new Published(DUBEY, t4, "405B 8K", llama, h100, 16384, 128 * 16, 8, 16, 1, Recompute.NONE, null, 1, null,
        INTERLEAVED, CpAlgorithm.ALL_GATHER, LLAMA3, palm, 0.41));
    p.add(new Published(DUBEY, t4, "405B 128K", llama.withSeq(131072), h100, 16384, 8 * 16, 8, 16, 16, null, null, 1,
        null, INTERLEAVED, CpAlgorithm.ALL_GATHER, LLAMA3, palm, 0.38));
    // torchtitan, docs/performance.md, "Llama 3 performance numbers": FSDP2 on 64 A100 80GB, local batch 1 (global
    // 64), sequence 8192 (the train configs); MFU by its train.py, (6 N + 12 L h s) per token over 312 TFLOP/s, i.e.
    // PaLM's. 8B "selective layer" (every other layer recomputed) 2904 tokens/s per GPU, 56.8%; 70B full, 331, 51.7%.
    // The 8B "selective op" row (58.2%) recomputes chosen operators, which the planner does not model.
    String perf = "docs/performance.md";
    p.add(new Published(TITAN, perf, "8B sel. layer", PlanModels.preset("llama3-8b"), a100, 64, 64, 1, 1, 1,
        Recompute.FULL, null, 3, 1, ONE_F_ONE_B, CpAlgorithm.RING, TORCHTITAN, palm, 0.568, true));
    p.add(new Published(TITAN, perf, "70B full", PlanModels.preset("llama3-70b"), a100, 64, 64, 1, 1, 1,
        Recompute.FULL, null, 3, 1, ONE_F_ONE_B, CpAlgorithm.RING, TORCHTITAN, palm, 0.517));
    return p;
  }

  /**
   * Checks that {@code pub}'s setup is a layout at all: degrees that divide its GPUs and batch, tp dividing the
   * heads, pp at most the layers; the message names the valid choices.
   */
  static void check(Published pub) {
    ModelDims m = pub.shape();
    int cells = pub.tp() * pub.pp() * pub.cp();
    if (pub.gpus() % cells != 0) {
      throw new WeftInputException(pub.label() + ": tp x pp x cp = " + cells + " does not divide the " + pub.gpus()
          + " GPUs; valid products are the divisors of " + pub.gpus() + ": " + Planner.divisors(pub.gpus()) + ".");
    }
    if (m.heads() % pub.tp() != 0 || m.kvHeads() % pub.tp() != 0) {
      throw new WeftInputException(pub.label() + ": tp " + pub.tp() + " does not divide the " + m.kvHeads()
          + " key/value heads of " + m + "; valid tp: " + Planner.divisors(m.kvHeads()) + ".");
    }
    if (pub.pp() > m.layers()) {
      throw new WeftInputException(pub.label() + ": pp " + pub.pp() + " exceeds the " + m.layers() + " layers.");
    }
    if (pub.globalBatch() % pub.dp() != 0) {
      throw new WeftInputException(pub.label() + ": dp " + pub.dp() + " does not divide the global batch "
          + pub.globalBatch() + ".");
    }
    int perReplica = pub.globalBatch() / pub.dp();
    if (pub.microBatch() != null && perReplica % pub.microBatch() != 0) {
      throw new WeftInputException(pub.label() + ": micro-batch " + pub.microBatch() + " does not divide the "
          + perReplica + " sequences per replica; valid micro-batches: " + Planner.divisors(perReplica) + ".");
    }
    if (pub.schedules().isEmpty() || (pub.pp() == 1 && !pub.schedules().contains(Schedule.ONE_F_ONE_B))) {
      throw new WeftInputException(pub.label() + ": the published setup allows no schedule the planner can run with "
          + "pp " + pub.pp() + "; valid: " + (pub.pp() == 1 ? "1f1b (no pipeline)" : "gpipe, 1f1b, interleaved, zb")
          + ".");
    }
  }

  /** The cluster a published run used: a device preset. */
  static ClusterSpec cluster(Published pub) {
    return ClusterSpec.preset(pub.device(), 0);
  }

  /**
   * The planner's best layout for the published setup (its schedules; the unpublished knobs free), with the
   * paper's metric computed from its step time by the paper's formula.
   */
  public static Comparison compare(Published pub) {
    check(pub);
    if (pub.alternateLayers()) {
      Comparison none = compare(with(pub, Recompute.NONE)), all = compare(with(pub, pub.recompute()));
      double seconds = (none.predicted().time().step() + all.predicted().time().step()) / 2;
      double v = pub.formula().metric(pub.shape(), pub.globalBatch(), pub.gpus(),
          cluster(pub).peakFlops(Precision.BF16), seconds);
      return new Comparison(pub, all.predicted(), v, v / pub.value() - 1);
    }
    ClusterSpec cluster = cluster(pub);
    Job job = new Job(pub.shape(), pub.globalBatch(), Precision.BF16, pub.software());
    Candidate best = null;
    for (boolean memoryBound : new boolean[] {true, false}) {
      ClusterSpec cl = memoryBound ? cluster : cluster.withMemoryBytes(Long.MAX_VALUE / 4);
      for (Schedule s : pub.schedules()) {
        Schedule fixed = pub.pp() == 1 ? null : s;
        Constraints c = new Constraints(pub.dp(), pub.tp(), pub.pp(), pub.cp(), pub.zero(),
            pub.tp() > 1 ? pub.sp() : null, pub.microBatch(), fixed, null, pub.recompute(),
            pub.cp() > 1 ? pub.cpAlgorithm() : null);
        Plan plan = new Planner(job, cl, pub.gpus(), c, 5, true).plan();
        if (!plan.ranked().isEmpty() && (best == null
            || plan.ranked().get(0).time().step() < best.time().step())) {
          best = plan.ranked().get(0);
        }
      }
      if (best != null) break; // memory is respected whenever some layout fits
    }
    if (best == null) throw new WeftInputException("no layout of the published setup of " + pub.label() + " is valid.");
    double v = pub.formula().metric(pub.shape(), pub.globalBatch(), pub.gpus(), cluster.peakFlops(Precision.BF16),
        best.time().step());
    return new Comparison(pub, best, v, v / pub.value() - 1);
  }

  /** {@code pub} with {@code r} on every layer. */
  private static Published with(Published pub, Recompute r) {
    return new Published(pub.source(), pub.where(), pub.model(), pub.shape(), pub.device(), pub.gpus(),
        pub.globalBatch(), pub.tp(), pub.pp(), pub.cp(), r, pub.sp(), pub.zero(), pub.microBatch(), pub.schedules(),
        pub.cpAlgorithm(), pub.software(), pub.formula(), pub.value());
  }

  public static List<Comparison> compareAll() {
    return compareAll(all());
  }

  public static List<Comparison> compareAll(List<Published> runs) {
    List<Comparison> out = new ArrayList<>();
    for (Published p : runs) out.add(compare(p));
    return out;
  }

  /** Whether the run's software is one the model describes (Megatron-LM, Llama 3, torchtitan), not DeepSpeed's of 2021. */
  public static boolean explained(Published p) {
    return p.software() != DEEPSPEED_ZERO && p.software() != DEEPSPEED_PIPE;
  }

  /** Mean |relative error| over {@code rows}. */
  public static double meanAbsoluteError(List<Comparison> rows) {
    return rows.stream().mapToDouble(c -> Math.abs(c.relativeError())).average().orElse(0);
  }

  /** A table of published vs predicted, per case: the paper's metric, the planner's by the paper's formula. */
  public static String table(List<Comparison> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-20s %-16s %-14s %5s %3s %3s %3s %5s  %-7s %9s %9s %7s  %s%n", "source",
        "where", "model", "GPUs", "tp", "pp", "cp", "batch", "metric", "published", "predicted", "error",
        "planner's layout (unpublished knobs chosen)"));
    double worst = 0;
    for (Comparison c : rows) {
      Published p = c.published();
      boolean mfu = p.formula().unit.equals("MFU");
      sb.append(String.format(Locale.ROOT, "%-20s %-16s %-14s %5d %3d %3d %3d %5d  %-7s %9s %9s %+6.1f%%  %s%n",
          p.source(), shorten(p.where(), 16), p.model(), p.gpus(), p.tp(), p.pp(), p.cp(), p.globalBatch(),
          p.formula().unit, mfu ? Units.pct(p.value()) : String.format(Locale.ROOT, "%.0f", p.value()),
          mfu ? Units.pct(c.predictedValue()) : String.format(Locale.ROOT, "%.1f", c.predictedValue()),
          100 * c.relativeError(), c.predicted().layout() + (p.alternateLayers() ? " on every other layer" : "")));
      worst = Math.max(worst, Math.abs(c.relativeError()));
    }
    sb.append(String.format(Locale.ROOT, "mean |error| %.1f%%, max |error| %.1f%% over all %d published results%n",
        100 * meanAbsoluteError(rows), 100 * worst, rows.size()));
    List<Comparison> explained = rows.stream().filter(c -> explained(c.published())).toList();
    double worstExplained = explained.stream().mapToDouble(c -> Math.abs(c.relativeError())).max().orElse(0);
    sb.append(String.format(Locale.ROOT, "mean |error| %.1f%%, max |error| %.1f%% over the %d runs of Megatron-LM, "
        + "Llama 3 and torchtitan (without DeepSpeed's ZeRO-3 and MT-NLG runs, which the model does not explain: see PublishedResults)%n",
        100 * meanAbsoluteError(explained), 100 * worstExplained, explained.size()));
    sb.append("formulas: ");
    for (Formula f : Formula.values()) sb.append(f.name()).append(" = ").append(f.description).append("; ");
    sb.append(String.format(Locale.ROOT, "%nconstants from microbenchmarks only (GpuBenchmarks); no published run "
        + "enters them%n"));
    return sb.toString();
  }

  private static String shorten(String s, int n) {
    return s.length() <= n ? s : s.substring(0, n - 1) + "~";
  }
}
