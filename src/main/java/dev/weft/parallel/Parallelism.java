package dev.weft.parallel;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParamSpec;
import dev.weft.parallel.cp.ContextParallel;
import dev.weft.parallel.pp.PipelineSchedule;
import dev.weft.parallel.pp.StagePlan;
import dev.weft.parallel.pp.StageSplit;
import java.util.Arrays;

/**
 * How a run is laid out over devices: dp x pp x cp x tp ranks (TP innermost, then CP, DP, PP outermost; see
 * {@link dev.weft.mesh.ParallelLayout}), and the choices that go with each axis. Built with {@link #builder()}
 * (every field defaults to one device); {@link #validate()} checks every constraint of the layout alone, each
 * error naming the option and the fix.
 *
 * @param dp            data-parallel degree (replicas; the batch is split across them)
 * @param tp            tensor-parallel degree (every weight matrix split across this many ranks)
 * @param pp            pipeline stages (consecutive layers on different ranks)
 * @param cp            context-parallel degree (every sequence split across this many ranks)
 * @param sp            Megatron sequence parallelism inside the tensor-parallel group
 * @param zero          ZeRO stage 0-3 on the data-parallel (and context-parallel) axis
 * @param schedule      pipeline schedule
 * @param virtualStages model chunks per pipeline rank (interleaved)
 * @param cpMethod      context-parallel attention: ring or all-to-all
 * @param stageSplit    how layers are cut into pipeline chunks
 * @param recompute     full activation recomputation: blocks keep only their outputs, backward runs each
 *                      block's forward again (see {@link dev.weft.decoder.Workspace})
 */
public record Parallelism(int dp, int tp, int pp, int cp, boolean sp, int zero, PipelineSchedule schedule,
                          int virtualStages, ContextParallel.Method cpMethod, StageSplit stageSplit,
                          boolean recompute) {
  /** One device. */
  public static final Parallelism SINGLE = builder().build();

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().dp(dp).tp(tp).pp(pp).cp(cp).sp(sp).zero(zero).schedule(schedule)
        .virtualStages(virtualStages).cpMethod(cpMethod).stageSplit(stageSplit).recompute(recompute);
  }

  public int worldSize() {
    return dp * tp * pp * cp;
  }

  /** This layout with full activation recomputation on or off. */
  public Parallelism withRecompute(boolean on) {
    return toBuilder().recompute(on).build();
  }

  /** The pipeline's chunks for {@code m} (see {@link StageSplit}). */
  public StagePlan stagePlan(ModelSpec m) {
    int v = virtualStages;
    double[] layerCost = new double[m.layers()];
    return switch (stageSplit.kind()) {
      case COUNT -> StagePlan.balanced(m.layers(), pp, v);
      case PARAMS -> {
        Arrays.fill(layerCost, m.blockParameters());
        yield StagePlan.byCost(layerCost, m.regionParameters(ParamSpec.Region.EMBEDDING),
            m.regionParameters(ParamSpec.Region.FINAL), pp, v);
      }
      case FLOPS -> {
        // per token forward: 2 FLOPs per block weight, 4 T (H hd) of attention; the head's 2 V C
        Arrays.fill(layerCost, 2.0 * m.blockWeightParameters() + 4.0 * m.heads() * m.headDim() * m.context());
        yield StagePlan.byCost(layerCost, 0, 2.0 * m.vocab() * m.dModel(), pp, v);
      }
      case EXPLICIT -> {
        int sum = Arrays.stream(stageSplit.sizes()).sum();
        if (sum != m.layers()) {
          throw new WeftInputException("--stage-split " + stageSplit + " puts " + sum + " layers in the pipeline but the "
              + "model has " + m.layers() + "; the counts must add up to the layers.");
        }
        yield StagePlan.explicit(stageSplit.sizes(), pp, v);
      }
    };
  }

  @Override
  public String toString() {
    return "dp=" + dp + " tp=" + tp + " pp=" + pp + " cp=" + cp + (cp > 1 ? " (" + cpMethod.cliName() + ")" : "")
        + (sp ? " sp" : "") + " zero=" + zero
        + (pp > 1 ? " schedule=" + schedule.cliName() + (virtualStages > 1 ? " v=" + virtualStages : "") : "")
        + (recompute ? " recompute=full" : "");
  }

  /** The command-line options that give this layout (e.g. "--dp 2 --tp 2 --sp --zero 1"), empty for one device. */
  public String flags() {
    StringBuilder sb = new StringBuilder();
    if (dp > 1) sb.append(" --dp ").append(dp);
    if (tp > 1) sb.append(" --tp ").append(tp);
    if (sp) sb.append(" --sp");
    if (pp > 1) {
      sb.append(" --pp ").append(pp).append(" --schedule ").append(schedule.cliName());
      if (virtualStages > 1) sb.append(" --virtual-stages ").append(virtualStages);
      if (stageSplit.kind() != StageSplit.Kind.COUNT) sb.append(" --stage-split ").append(stageSplit);
    }
    if (cp > 1) sb.append(" --cp ").append(cp).append(" --cp-attention ").append(cpMethod.cliName());
    if (zero > 0) sb.append(" --zero ").append(zero);
    if (recompute) sb.append(" --recompute full");
    return sb.toString().trim();
  }

  /** Checks every constraint of the layout alone, each error naming the option and the fix. */
  public Parallelism validate() {
    if (dp < 1) throw new WeftInputException("--dp must be >= 1, got " + dp + ".");
    if (tp < 1) throw new WeftInputException("--tp must be >= 1, got " + tp + ".");
    if (pp < 1) throw new WeftInputException("--pp must be >= 1, got " + pp + ".");
    if (cp < 1) throw new WeftInputException("--cp must be >= 1, got " + cp + ".");
    if (virtualStages < 1) throw new WeftInputException("--virtual-stages must be >= 1, got " + virtualStages + ".");
    if (pp == 1 && virtualStages > 1) {
      throw new WeftInputException("--virtual-stages " + virtualStages + " needs pipeline parallelism (--pp 2 or more).");
    }
    if (sp && tp == 1) {
      throw new WeftInputException("--sp (sequence parallelism) works inside a tensor-parallel group; it needs --tp 2 or more.");
    }
    if (zero < 0 || zero > 3) throw new WeftInputException("--zero must be 0, 1, 2 or 3, got " + zero + ".");
    if (recompute && pp > 1 && schedule.defersWeights()) {
      throw new WeftInputException("--recompute full with --schedule zb: the zero-bubble schedule defers each block's "
          + "weight gradients until after its input gradients, which needs every block's activations kept, and "
          + "recomputation drops them. Use --schedule 1f1b (or another) with --recompute, or --recompute none.");
    }
    return this;
  }

  /** Named arguments for a layout; every field defaults to one device (1f1b, ring, equal stage counts). */
  public static final class Builder {
    private int dp = 1, tp = 1, pp = 1, cp = 1, zero, virtualStages = 1;
    private boolean sp, recompute;
    private PipelineSchedule schedule = PipelineSchedule.ONE_F_ONE_B;
    private ContextParallel.Method cpMethod = ContextParallel.Method.RING;
    private StageSplit stageSplit = StageSplit.COUNT;

    public Builder dp(int v) { dp = v; return this; }
    public Builder tp(int v) { tp = v; return this; }
    public Builder pp(int v) { pp = v; return this; }
    public Builder cp(int v) { cp = v; return this; }
    public Builder sp(boolean v) { sp = v; return this; }
    public Builder zero(int v) { zero = v; return this; }
    public Builder schedule(PipelineSchedule v) { schedule = v; return this; }
    public Builder schedule(String v) { return schedule(PipelineSchedule.parse(v)); }
    public Builder virtualStages(int v) { virtualStages = v; return this; }
    public Builder cpMethod(ContextParallel.Method v) { cpMethod = v; return this; }
    public Builder cpMethod(String v) { return cpMethod(ContextParallel.Method.parse(v)); }
    public Builder stageSplit(StageSplit v) { stageSplit = v; return this; }
    public Builder recompute(boolean v) { recompute = v; return this; }

    /** A pipeline of {@code p} stages run by {@code schedule} with {@code v} chunks per rank. */
    public Builder pipeline(int p, String schedule, int v) {
      return pp(p).schedule(schedule).virtualStages(v);
    }

    /** Context parallelism of degree {@code n} by {@code method}. */
    public Builder context(int n, String method) {
      return cp(n).cpMethod(method);
    }

    public Parallelism build() {
      return new Parallelism(dp, tp, pp, cp, sp, zero, schedule, virtualStages, cpMethod, stageSplit, recompute);
    }
  }
}
