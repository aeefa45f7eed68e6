package dev.weft.plan;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Published training throughputs on A100 clusters, and the planner's predictions for the same model,
 * devices, batch and parallel degrees (the planner picks the unpublished micro-batch and schedule,
 * as the authors tuned theirs). All runs: bf16/fp16 mixed precision, sequence 2048, vocabulary 51200
 * (MT-NLG: 50257 padded, modelled as 51200), {@code a100-80gb}.
 * <ul>
 * <li>Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters Using
 *     Megatron-LM" (SC'21), Table 1 (weak scaling, full activation recomputation, achieved
 *     teraFLOP/s per GPU counting the recomputation, i.e. hardware FLOPs).
 * <li>Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
 *     Table 3 (configurations: t = 8, micro-batch 1, data parallel 1) and Table 5 / the Megatron-LM
 *     README's MFU table (selective recomputation + sequence parallelism: model FLOPs utilization
 *     41.5% 22B, 51.4% 175B, 56.0% 530B, 56.3% 1T).
 * <li>Smith et al. 2022, "Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B", section 2.4:
 *     tp 8, pp 35, global batch 1920 on 280/350/420 DGX A100 nodes: 126/121/113 teraFLOP/s per GPU
 *     (iterations of 60.1/50.2/44.4 s).
 * </ul>
 * The single fitted constant is {@link ClusterSpec#GPU_EFFICIENCY}; everything else follows from the
 * formulas. The error bound reached is stated in PublishedResultsTest and printed by
 * {@code weft plan --validate-published}.
 */
public final class PublishedResults {
  private PublishedResults() {
  }

  /** What was published: TFLOP/s per GPU (hardware FLOPs) or MFU. */
  public enum Metric { TFLOPS_PER_GPU, MFU }

  public record Published(String source, String model, ModelSpec config, int gpus, int globalBatch, int tp, int pp,
                          Recompute recompute, boolean sp, Metric metric, double value) {
  }

  public record Comparison(Published published, Candidate predicted, double predictedValue, double relativeError) {
  }

  static final String NARAYANAN = "Narayanan et al. 2021, Table 1";
  static final String KORTHIKANTI = "Korthikanti et al. 2022, Tables 3 and 5";
  static final String SMITH = "Smith et al. 2022 (MT-NLG), section 2.4";

  private static ModelSpec gpt(int layers, int h, int heads) {
    return new GPT2Config(layers, h, heads, 2048, 51200).spec();
  }

  public static List<Published> all() {
    List<Published> p = new ArrayList<>();
    // Narayanan et al. 2021, Table 1: params, heads, hidden, layers, tp, pp, GPUs, batch, TFLOP/s per GPU.
    Recompute f = Recompute.FULL;
    Metric T = Metric.TFLOPS_PER_GPU;
    p.add(new Published(NARAYANAN, "1.7B", gpt(24, 2304, 24), 32, 512, 1, 1, f, false, T, 137));
    p.add(new Published(NARAYANAN, "3.6B", gpt(30, 3072, 32), 64, 512, 2, 1, f, false, T, 138));
    p.add(new Published(NARAYANAN, "7.5B", gpt(36, 4096, 32), 128, 512, 4, 1, f, false, T, 142));
    p.add(new Published(NARAYANAN, "18.4B", gpt(40, 6144, 48), 256, 1024, 8, 1, f, false, T, 135));
    p.add(new Published(NARAYANAN, "39.1B", gpt(48, 8192, 64), 512, 1536, 8, 2, f, false, T, 138));
    p.add(new Published(NARAYANAN, "76.1B", gpt(60, 10240, 80), 1024, 1792, 8, 4, f, false, T, 140));
    p.add(new Published(NARAYANAN, "145.6B", gpt(80, 12288, 96), 1536, 2304, 8, 8, f, false, T, 148));
    p.add(new Published(NARAYANAN, "310.1B", gpt(96, 16384, 128), 1920, 2160, 8, 16, f, false, T, 155));
    p.add(new Published(NARAYANAN, "529.6B", gpt(105, 20480, 128), 2520, 2520, 8, 35, f, false, T, 163));
    p.add(new Published(NARAYANAN, "1008B", gpt(128, 25600, 160), 3072, 3072, 8, 64, f, false, T, 163));
    // Korthikanti et al. 2022: Table 3 shapes (dp = 1, global batch = GPUs... see Table 3), Table 5 MFU.
    Recompute s = Recompute.SELECTIVE;
    p.add(new Published(KORTHIKANTI, "22B", gpt(48, 6144, 64), 8, 4, 8, 1, s, true, Metric.MFU, 0.415));
    p.add(new Published(KORTHIKANTI, "175B", gpt(96, 12288, 96), 64, 64, 8, 8, s, true, Metric.MFU, 0.514));
    p.add(new Published(KORTHIKANTI, "530B", gpt(105, 20480, 128), 280, 280, 8, 35, s, true, Metric.MFU, 0.560));
    p.add(new Published(KORTHIKANTI, "1T", gpt(128, 25600, 160), 512, 512, 8, 64, s, true, Metric.MFU, 0.563));
    // Smith et al. 2022: MT-NLG 530B, tp 8, pp 35, batch 1920.
    ModelSpec mtnlg = gpt(105, 20480, 128);
    p.add(new Published(SMITH, "530B/2240", mtnlg, 2240, 1920, 8, 35, f, false, T, 126));
    p.add(new Published(SMITH, "530B/2800", mtnlg, 2800, 1920, 8, 35, f, false, T, 121));
    p.add(new Published(SMITH, "530B/3360", mtnlg, 3360, 1920, 8, 35, f, false, T, 113));
    return p;
  }

  /** The best predicted layout with the published degrees, 1F1B or interleaved (as in 2021-22). */
  public static Comparison compare(Published pub, ClusterSpec cluster) {
    Job job = new Job(pub.config(), pub.globalBatch(), Precision.BF16);
    int dp = pub.gpus() / (pub.tp() * pub.pp());
    Constraints c = new Constraints(dp, pub.tp(), pub.pp(), 1, 0, pub.tp() > 1 ? pub.sp() : null, null, null, null,
        pub.recompute(), null);
    Plan plan = new Planner(job, cluster.withMemoryBytes(Long.MAX_VALUE / 4), pub.gpus(), c, 50, false).plan();
    Candidate best = null;
    for (Candidate cand : plan.ranked()) {
      Schedule s = cand.layout().schedule();
      if (s == Schedule.NONE || s == Schedule.ONE_F_ONE_B || s == Schedule.INTERLEAVED) {
        if (cand.layout().pp() == 1 || cand.layout().microBatch() == 1) {
          best = cand;
          break;
        }
      }
    }
    if (best == null) throw new IllegalStateException("no layout for " + pub);
    double v = pub.metric() == Metric.MFU ? best.mfu() : best.tflopsPerDevice();
    return new Comparison(pub, best, v, v / pub.value() - 1);
  }

  public static List<Comparison> compareAll(ClusterSpec cluster) {
    List<Comparison> out = new ArrayList<>();
    for (Published p : all()) out.add(compare(p, cluster));
    return out;
  }

  /** A table of published vs predicted, with the relative error and the largest error. */
  public static String table(List<Comparison> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-42s %-10s %5s %3s %3s %5s  %-9s %9s %9s %7s  %s%n", "source", "model",
        "GPUs", "tp", "pp", "batch", "metric", "published", "predicted", "error", "predicted layout"));
    double worst = 0, sum = 0;
    for (Comparison c : rows) {
      Published p = c.published();
      boolean mfu = p.metric() == Metric.MFU;
      sb.append(String.format(Locale.ROOT, "%-42s %-10s %5d %3d %3d %5d  %-9s %9s %9s %+6.1f%%  %s%n", p.source(),
          p.model(), p.gpus(), p.tp(), p.pp(), p.globalBatch(), mfu ? "MFU" : "TFLOP/s",
          mfu ? Units.pct(p.value()) : String.format(Locale.ROOT, "%.0f", p.value()),
          mfu ? Units.pct(c.predictedValue()) : String.format(Locale.ROOT, "%.1f", c.predictedValue()),
          100 * c.relativeError(), c.predicted().layout()));
      worst = Math.max(worst, Math.abs(c.relativeError()));
      sum += Math.abs(c.relativeError());
    }
    sb.append(String.format(Locale.ROOT, "mean |error| %.1f%%, max |error| %.1f%% over %d published results%n",
        100 * sum / rows.size(), 100 * worst, rows.size()));
    return sb.toString();
  }
}
