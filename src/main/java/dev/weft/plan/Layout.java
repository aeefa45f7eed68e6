package dev.weft.plan;

/**
 * One way to lay a training job out: the four mesh degrees (dp x tp x pp x cp = devices, TP innermost
 * as in {@link dev.weft.mesh.ParallelLayout}), the ZeRO stage (0 = plain DP), Megatron sequence
 * parallelism, sequences per micro-batch, pipeline schedule and virtual stages per device, activation
 * recomputation and the context-parallel algorithm. Pure data; the planner's output.
 */
public record Layout(int dp, int tp, int pp, int cp, int zero, boolean sp, int microBatch, Schedule schedule,
                     int virtualStages, Recompute recompute, CpAlgorithm cpAlgorithm) {

  public int devices() {
    return dp * tp * pp * cp;
  }

  /** Micro-batches per step on each data-parallel replica: B / (dp * micro-batch). */
  public int microBatches(int globalBatch) {
    return globalBatch / (dp * microBatch);
  }

  /** A single-device layout with the given micro-batch. */
  public static Layout single(int microBatch) {
    return new Layout(1, 1, 1, 1, 0, false, microBatch, Schedule.NONE, 1, Recompute.NONE, CpAlgorithm.RING);
  }

  public Layout withRecompute(Recompute r) {
    return new Layout(dp, tp, pp, cp, zero, sp, microBatch, schedule, virtualStages, r, cpAlgorithm);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    sb.append("dp=").append(dp).append(" tp=").append(tp).append(" pp=").append(pp).append(" cp=").append(cp);
    sb.append(" zero=").append(zero);
    if (tp > 1) sb.append(sp ? " sp" : " no-sp");
    sb.append(" mb=").append(microBatch);
    if (pp > 1) {
      sb.append(' ').append(schedule.cliName());
      if (schedule == Schedule.INTERLEAVED) sb.append(" v=").append(virtualStages);
    }
    sb.append(" recompute=").append(recompute.cliName());
    if (cp > 1) sb.append(" cp-").append(cpAlgorithm.cliName());
    return sb.toString();
  }
}
