package dev.weft.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.weft.WeftInputException;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.plan.AttentionKernel;
import dev.weft.plan.AutoLayout;
import dev.weft.plan.Layout;
import dev.weft.plan.RuntimeComparison;
import dev.weft.plan.Calibration;
import dev.weft.plan.Candidate;
import dev.weft.plan.ClusterSpec;
import dev.weft.plan.Constraints;
import dev.weft.plan.CpAlgorithm;
import dev.weft.plan.DeviceSpec;
import dev.weft.plan.Explainer;
import dev.weft.plan.Job;
import dev.weft.plan.ModelDims;
import dev.weft.plan.LocalMachine;
import dev.weft.plan.Plan;
import dev.weft.plan.PlanModels;
import dev.weft.plan.Planner;
import dev.weft.plan.Precision;
import dev.weft.plan.PublishedResults;
import dev.weft.plan.Recompute;
import dev.weft.plan.Schedule;
import dev.weft.plan.Software;
import dev.weft.plan.Units;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft plan}: which parallelism, and how much of each, for a model on a cluster. Prints a table
 * of the best layouts (or JSON with --json) and, with --explain, why the winner wins.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Choose a parallel layout: predicts memory per device and step time of every valid layout.",
        "Speaks weft train's language: --num-devices, --schedule zb, --cp-attention alltoall, --recompute none|full; "
            + "proposes only layouts weft train can run, and prints the 'weft train' command of the best.",
        "Exit codes: 0 an answer; 2 bad input, or (without --json) no layout fits."})
public final class PlanCommand implements Callable<Integer> {
  @Option(names = "--model", paramLabel = "PRESET", completionCandidates = PlanModels.Names.class,
      description = "Model preset: ${COMPLETION-CANDIDATES}.")
  String preset;
  @Option(names = "--layers", description = "Transformer blocks.") Integer layers;
  @Option(names = "--d-model", description = "Width C.") Integer dModel;
  @Option(names = "--heads", description = "Attention heads.") Integer heads;
  @Option(names = "--vocab", description = "Vocabulary size.") Integer vocab;
  @Option(names = "--context", description = "Sequence length T.") Integer context;
  @Option(names = "--kv-heads", description = "Key/value heads (grouped-query attention; default: the preset's, or "
      + "--heads).") Integer kvHeads;
  @Option(names = "--ffn", description = "MLP width (default: the preset's, or 4 x --d-model).") Integer ffn;
  @Option(names = "--attention", description = "Attention kernel: flash (default) or materialized (s x s scores "
      + "in memory, Megatron-LM 2021-22).") String attention;

  @Option(names = {"--global-batch", "--batch"}, description = "Sequences per optimizer step (default with a --model "
      + "preset: weft train's --batch for Weft's presets, the published run's batch for 1.7b, 175b, 530b, 1t and "
      + "llama3-405b).") Integer globalBatch;
  @Option(names = "--num-devices", paramLabel = "N", description = "Number of devices to plan for (as weft train "
      + "--layout auto --num-devices).") Integer numDevices;
  @Option(names = "--devices", hidden = true, description = "The older spelling of --num-devices.") Integer devicesAlias;
  @Option(names = "--devices-per-node", description = "Devices per node (default: the device's, 8 for GPU presets).")
  Integer devicesPerNode;
  @Option(names = "--device", paramLabel = "PRESET", description = "a100-80gb, h100-80gb, or local (this machine's "
      + "local backend: the saved calibration, ~/.weft/device.json, or uncalibrated defaults).") String device;
  @Option(names = "--device-file", paramLabel = "FILE", description = "A DeviceSpec JSON file (measured devices). A "
      + "calibration of this machine (weft plan --calibrate) plans for local ranks sharing its cores.")
  Path deviceFile;
  @Option(names = "--calibrate", description = "Measure this machine (matmul GFLOP/s at 1 and 2 threads, local "
      + "all-reduce bandwidth and latency, a training step's efficiency), save it as a DeviceSpec and exit.")
  boolean calibrate;
  @Option(names = "--out", paramLabel = "FILE", description = "Where --calibrate saves (default ~/.weft/device.json).")
  Path calibrationOut;
  @Option(names = "--tcp", description = "With --calibrate: also measure the tcp backend on loopback (about 10 s more).")
  boolean calibrateTcp;
  @Option(names = "--precision", description = "fp32 or bf16 (default: fp32 on this machine's devices, the precision "
      + "weft train computes in; bf16 on GPU presets and device files without this machine's cores).")
  String precision;

  @Option(names = "--recompute", description = "Fix recomputation: none or full (as weft train); selective is planned "
      + "only when fixed (weft train refuses it: its attention keeps no scores to drop).") String recompute;
  @Option(names = "--dp", description = "Fix the data-parallel degree.") Integer dp;
  @Option(names = "--tp", description = "Fix the tensor-parallel degree.") Integer tp;
  @Option(names = "--pp", description = "Fix the pipeline-parallel degree.") Integer pp;
  @Option(names = "--cp", description = "Fix the context-parallel degree.") Integer cp;
  @Option(names = "--zero", description = "Fix the ZeRO stage (0-3).") Integer zero;
  @Option(names = "--sp", arity = "0..1", description = "Fix sequence parallelism (true/false).") Boolean sp;
  @Option(names = "--micro-batch", description = "Fix sequences per micro-batch.") Integer microBatch;
  @Option(names = "--schedule", description = "Fix the pipeline schedule: gpipe, 1f1b, interleaved, zb (zb-h1 "
      + "accepted).") String schedule;
  @Option(names = "--virtual-stages", description = "Fix virtual stages per device (interleaved).")
  Integer virtualStages;
  @Option(names = "--cp-attention", description = "Fix the context-parallel attention: ring or alltoall (as weft "
      + "train); allgather is planned only when fixed (weft train has ring and alltoall).") String cpAttention;
  @Option(names = "--cp-algorithm", hidden = true, description = "The older spelling of --cp-attention.")
  String cpAlgorithm;

  @Option(names = "--top", description = "Layouts to show (default ${DEFAULT-VALUE}).", defaultValue = "5") int top;
  @Option(names = "--json", description = {"Print the candidates as JSON: an array of the best layouts, each with its "
      + "memory_bytes and time_s breakdowns. When no layout fits: one object {\"feasible\": false, \"reason\", "
      + "\"layout\", \"memory\", \"time\", \"step_time_s\", \"candidates\"} for the layouts that came closest.",
      "Exit code with --json: 0 whenever the JSON answer is printed, fitting or not (read \"feasible\" / an array); 2 "
          + "for bad input (a message on stderr, no JSON), including degrees that do not divide the devices or batch."})
  boolean json;
  @Option(names = "--explain", description = "Explain why the winner wins and the alternatives lose.")
  boolean explain;
  @Option(names = "--validate-published", description = "Print predicted vs published results and exit.")
  boolean validatePublished;


  /** The number of devices planned for (--num-devices). */
  private int devices;
  /** Whether the devices are this machine's (--device local, or its calibration file): train's fp32 then. */
  private boolean localDevices;

  @Override
  public Integer call() throws Exception {
    PrintStream out = System.out;
    if (calibrate) {
      Path file = calibrationOut != null ? calibrationOut : Calibration.defaultFile();
      out.println("calibrating this machine (about a minute; each figure is the best of several alternating rounds, "
          + "yet an idle machine gives the steadiest)...");
      long t0 = System.nanoTime();
      DeviceSpec spec = Calibration.measure(out, calibrateTcp);
      Calibration.save(spec, file);
      out.printf(Locale.ROOT, "saved %s in %.1f s; use it with 'weft plan --device-file %s' (or --device local) and "
          + "'weft bench plan'%n", file, (System.nanoTime() - t0) / 1e9, file);
      return 0;
    }
    if (validatePublished) {
      out.print(PublishedResults.table(PublishedResults.compareAll()));
      return 0;
    }
    devices = numDevices();
    ClusterSpec cluster = cluster();
    Job job = job();
    Constraints fixed = constraints();
    Planner planner = new Planner(job, cluster, devices, fixed, Math.max(Planner.DEFAULT_KEEP, top), true);
    boolean trainable = trainRefuses(fixed) == null;
    if (trainable) {
      planner.onlySupported(AutoLayout::runtimeRuns,
          "layouts weft train cannot run (recompute selective, allgather attention...) were skipped");
    }
    Plan plan = planner.plan();
    if (json && plan.ranked().isEmpty() && plan.evaluated() > 0) {
      out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(infeasibleJson(plan)));
      return 0;
    }
    plan.requireFeasible();
    if (json) {
      List<Map<String, Object>> list = new ArrayList<>();
      for (int i = 0; i < Math.min(top, plan.ranked().size()); i++) list.add(plan.ranked().get(i).toJson());
      for (int i = 0; i < Math.min(top, plan.infeasible().size()); i++) list.add(plan.infeasible().get(i).toJson());
      out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(list));
      return 0;
    }
    out.println(job.shape() + ", global batch " + job.globalBatch() + " x " + job.shape().seq() + " tokens, "
        + job.precision().cliName() + ", on " + devices + " x " + cluster.name() + " (" + cluster.devicesPerNode()
        + " per node, " + Units.bytes(cluster.usableMemoryBytes()) + " usable each)");
    out.printf(Locale.ROOT, "%d layouts evaluated, %d fit, in %.2f s%n%n", plan.evaluated(), plan.feasibleCount(),
        plan.searchSeconds());
    out.print(table(plan.ranked().subList(0, Math.min(top, plan.ranked().size()))));
    if (explain) {
      out.println();
      out.print(Explainer.explain(plan));
    }
    out.println();
    Candidate runnable = trainable ? firstTrainCanRun(job, plan) : null;
    if (runnable != null) {
      out.println(runnable == plan.best() ? "run the best layout with:"
          : "run it with (the best that weft train accepts, " + runnable.layout() + "):");
      out.println("  " + trainCommand(job, cluster, runnable.layout()));
    } else if (trainable) {
      out.println("weft train accepts none of these layouts as they are (its own checks of the model and batch).");
    } else {
      out.println("weft train cannot run these layouts: " + trainRefuses(fixed));
    }
    return 0;
  }

  /** The best ranked layout that weft train's own checks accept ({@link AutoLayout#runtimeSupports}), or null. */
  static Candidate firstTrainCanRun(Job job, Plan plan) {
    dev.weft.model.ModelSpec spec;
    try {
      spec = job.model();
    } catch (WeftInputException | IllegalArgumentException e) {
      return null;
    }
    for (Candidate c : plan.ranked()) {
      if (AutoLayout.runtimeSupports(spec, job.globalBatch(), c.layout())) return c;
    }
    return null;
  }

  /** Why weft train would refuse every layout under {@code fixed}, or null. */
  static String trainRefuses(Constraints fixed) {
    if (fixed.recompute() == Recompute.SELECTIVE) {
      return "--recompute selective (Weft's attention is blockwise and keeps no T x T scores to drop; use full or none).";
    }
    if (fixed.cpAlgorithm() == CpAlgorithm.ALL_GATHER) return "--cp-attention allgather (it has ring and alltoall).";
    return null;
  }

  /**
   * The command that trains {@code l}: {@code weft train} with the model (its preset when weft train knows it,
   * else the shape's options), the batch and the layout; under {@code weft launch} when the devices span nodes.
   */
  String trainCommand(Job job, ClusterSpec cluster, Layout l) {
    StringBuilder sb = new StringBuilder();
    int perNode = cluster.devicesPerNode();
    boolean local = devices <= perNode && localDevices;
    if (!local) {
      int nodes = (devices + perNode - 1) / perNode;
      sb.append("weft launch --nproc-per-node ").append(Math.min(devices, perNode));
      if (nodes > 1) sb.append(" --nnodes ").append(nodes).append(" --node-rank R --master-addr HOST");
      sb.append(" -- train");
    } else {
      sb.append("weft train");
    }
    ModelDims m = job.shape();
    boolean known = preset != null && dev.weft.models.Families.presetNames().contains(preset.toLowerCase(Locale.ROOT));
    if (known) {
      sb.append(" --model ").append(preset.toLowerCase(Locale.ROOT));
      if (layers != null) sb.append(" --layers ").append(layers);
      if (dModel != null) sb.append(" --d-model ").append(dModel);
      if (heads != null) sb.append(" --heads ").append(heads);
      if (kvHeads != null) sb.append(" --kv-heads ").append(kvHeads);
      if (ffn != null) sb.append(" --ffn ").append(ffn);
      if (context != null) sb.append(" --context ").append(context);
      if (vocab != null) sb.append(" --vocab ").append(vocab);
    } else {
      if (m.gated()) sb.append(" --model llama-micro");
      sb.append(" --layers ").append(m.layers()).append(" --d-model ").append(m.hidden()).append(" --heads ")
          .append(m.heads());
      if (m.kvHeads() != m.heads()) sb.append(" --kv-heads ").append(m.kvHeads());
      if (m.gated() || m.ffn() != 4 * m.hidden()) sb.append(" --ffn ").append(m.ffn());
      sb.append(" --context ").append(m.seq()).append(" --vocab ").append(m.vocab());
    }
    sb.append(" --batch ").append(job.globalBatch());
    String flags = RuntimeComparison.parallelism(l).flags();
    if (!flags.isEmpty()) sb.append(' ').append(flags);
    sb.append(" --micro-batch ").append(l.microBatch());
    if (!local) sb.append(" --devices tcp");
    return sb.toString();
  }

  /** --num-devices, or its older spelling --devices; required. */
  private int numDevices() {
    if (numDevices != null && devicesAlias != null && !numDevices.equals(devicesAlias)) {
      throw new WeftInputException("--num-devices " + numDevices + " and --devices " + devicesAlias + " both given; "
          + "give --num-devices only.");
    }
    Integer n = numDevices != null ? numDevices : devicesAlias;
    if (n == null) throw new WeftInputException("--num-devices is required: how many devices to plan for.");
    return n;
  }

  /**
   * The answer of --json when no layout fits: {@code feasible: false}, the reason (the same sentence the table
   * mode prints as its error), and the layout that came closest with the breakdown a feasible candidate carries:
   * {@code memory} (bytes on its busiest device by category), {@code time} (seconds of a step by part) and
   * {@code step_time_s}.
   */
  Map<String, Object> infeasibleJson(Plan plan) {
    String reason;
    try {
      plan.requireFeasible();
      throw new IllegalStateException("the plan has a feasible layout");
    } catch (WeftInputException e) {
      reason = e.getMessage();
    }
    Candidate closest = plan.infeasible().get(0);
    Map<String, Object> o = new java.util.LinkedHashMap<>();
    o.put("feasible", false);
    o.put("reason", reason);
    o.put("devices", plan.devices());
    o.put("usable_memory_bytes", plan.cluster().usableMemoryBytes());
    o.put("layout", closest.layoutJson());
    o.put("memory", closest.memoryJson());
    o.put("step_time_s", closest.time().step());
    o.put("time", closest.timeJson());
    o.put("candidates", plan.infeasible().subList(0, Math.min(top, plan.infeasible().size())).stream()
        .map(Candidate::toJson).toList());
    return o;
  }

  /** A fixed-width table of candidates. */
  public static String table(List<Candidate> rows) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-3s %-62s %10s %9s %8s %6s %10s%n", "#", "layout", "tokens/s", "step",
        "TFLOP/s", "MFU", "memory"));
    int i = 1;
    for (Candidate c : rows) {
      sb.append(String.format(Locale.ROOT, "%-3d %-62s %10s %9s %8.1f %6s %10s%n", i++, c.layout(),
          Units.count(c.tokensPerSecond()), Units.seconds(c.time().step()), c.tflopsPerDevice(), Units.pct(c.mfu()),
          Units.bytes(c.memory().total())));
    }
    return sb.toString();
  }

  Job job() {
    ModelDims base = preset != null ? PlanModels.preset(preset) : null;
    if (base == null && (layers == null || dModel == null || heads == null || vocab == null || context == null)) {
      throw new WeftInputException("give a model: --model PRESET (" + PlanModels.namesText()
          + ") or all of --layers, --d-model, --heads, --vocab, --context.");
    }
    if (base == null) base = ModelDims.of(new GPT2Config(layers, dModel, heads, context, vocab));
    int h = dModel != null ? dModel : base.hidden();
    ModelDims m = new ModelDims(base.name(), layers != null ? layers : base.layers(), h,
        heads != null ? heads : base.heads(), kvHeads != null ? kvHeads : heads != null && base.kvHeads() == base.heads()
        ? heads : base.kvHeads(), ffn != null ? ffn : base.gated() ? base.ffn() : dModel != null ? 4 * h : base.ffn(),
        base.gated(), vocab != null ? vocab : base.vocab(), context != null ? context : base.seq(),
        base.tiedEmbeddings(), base.learnedPositions(), base.biases(), base.dropout());
    int batch = globalBatch != null ? globalBatch : defaultBatch(preset);
    Software sw = Software.DEFAULT;
    if (attention != null) sw = sw.withAttention(AttentionKernel.parse(attention));
    Precision p = precision != null ? Precision.parse(precision) : localDevices ? Precision.FP32 : Precision.BF16;
    return new Job(m, batch, p, sw);
  }

  /**
   * The global batch a preset implies: weft train's --batch default for the presets it trains; for the planner's
   * published runs' models, their papers' batch (Narayanan et al. 2021 Table 1: 1.7B 512, 529.6B 2520, 1T 3072;
   * Table 2: 175B 1536).
   */
  static int defaultBatch(String preset) {
    if (preset == null) {
      throw new WeftInputException("--global-batch is required without a --model preset (sequences per optimizer step).");
    }
    String k = preset.toLowerCase(Locale.ROOT);
    if (dev.weft.models.Families.presetNames().contains(k)) {
      return dev.weft.train.TrainConfig.builder(dev.weft.models.Families.preset(k)).build().batch();
    }
    return switch (k) {
      case "1.7b" -> 512;
      case "175b" -> 1536;
      case "530b" -> 2520;
      case "1t" -> 3072;
      default -> throw new WeftInputException("--global-batch is required for --model " + preset + ": no published "
          + "run of it fixes one (sequences per optimizer step).");
    };
  }

  ClusterSpec cluster() {
    int g = devicesPerNode == null ? 0 : devicesPerNode;
    if (devicesPerNode != null && devicesPerNode <= 0) {
      throw new WeftInputException("--devices-per-node must be positive, got " + devicesPerNode + ".");
    }
    if (deviceFile != null && device != null) {
      throw new WeftInputException("--device and --device-file both given; choose one.");
    }
    if (deviceFile != null) {
      DeviceSpec spec = DeviceSpec.load(deviceFile);
      localDevices = spec.cores() != null;
      return clusterOf(spec, g);
    }
    if (device == null) {
      throw new WeftInputException("give --device " + ClusterSpec.PRESETS + ", local, or --device-file FILE.");
    }
    if (device.equalsIgnoreCase("local")) {
      localDevices = true;
      return clusterOf(Calibration.loadOrDefault(null), g);
    }
    return ClusterSpec.preset(device, g);
  }

  /**
   * A calibration of this machine (it records its cores) plans for local ranks sharing them
   * ({@link LocalMachine}) unless --devices-per-node describes a cluster of such machines; other device
   * files describe separate devices.
   */
  private ClusterSpec clusterOf(DeviceSpec spec, int devicesPerNodeOverride) {
    if (spec.cores() != null && devicesPerNodeOverride == 0) {
      return LocalMachine.of(spec).cluster(devices);
    }
    return spec.toCluster(devicesPerNodeOverride);
  }

  Constraints constraints() {
    if (zero != null && (zero < 0 || zero > 3)) throw new WeftInputException("--zero must be 0, 1, 2 or 3, got " + zero + ".");
    return new Constraints(dp, tp, pp, cp, zero, sp, microBatch,
        schedule == null ? null : Schedule.parse(schedule), virtualStages,
        recompute == null ? null : Recompute.parse(recompute), cpAttention());
  }

  /** --cp-attention, or its older spelling --cp-algorithm. */
  private CpAlgorithm cpAttention() {
    if (cpAttention != null && cpAlgorithm != null) {
      throw new WeftInputException("--cp-attention and --cp-algorithm both given; give --cp-attention only.");
    }
    String v = cpAttention != null ? cpAttention : cpAlgorithm;
    return v == null ? null : CpAlgorithm.parse(v);
  }

}
