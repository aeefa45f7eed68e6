package dev.weft.plan;

/**
 * Choices the user fixes; null leaves the planner free. {@code NONE} fixes nothing.
 */
public record Constraints(Integer dp, Integer tp, Integer pp, Integer cp, Integer zero, Boolean sp, Integer microBatch,
                          Schedule schedule, Integer virtualStages, Recompute recompute, CpAlgorithm cpAlgorithm) {
  public static final Constraints NONE = new Constraints(null, null, null, null, null, null, null, null, null, null, null);

  public Constraints withDp(Integer x) {
    return new Constraints(x, tp, pp, cp, zero, sp, microBatch, schedule, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withTp(Integer x) {
    return new Constraints(dp, x, pp, cp, zero, sp, microBatch, schedule, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withPp(Integer x) {
    return new Constraints(dp, tp, x, cp, zero, sp, microBatch, schedule, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withCp(Integer x) {
    return new Constraints(dp, tp, pp, x, zero, sp, microBatch, schedule, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withZero(Integer x) {
    return new Constraints(dp, tp, pp, cp, x, sp, microBatch, schedule, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withMicroBatch(Integer x) {
    return new Constraints(dp, tp, pp, cp, zero, sp, x, schedule, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withSchedule(Schedule x) {
    return new Constraints(dp, tp, pp, cp, zero, sp, microBatch, x, virtualStages, recompute, cpAlgorithm);
  }

  public Constraints withRecompute(Recompute x) {
    return new Constraints(dp, tp, pp, cp, zero, sp, microBatch, schedule, virtualStages, x, cpAlgorithm);
  }

  /** What is fixed, as the command-line options, for messages. */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    if (dp != null) sb.append(" --dp ").append(dp);
    if (tp != null) sb.append(" --tp ").append(tp);
    if (pp != null) sb.append(" --pp ").append(pp);
    if (cp != null) sb.append(" --cp ").append(cp);
    if (zero != null) sb.append(" --zero ").append(zero);
    if (sp != null) sb.append(" --sp ").append(sp);
    if (microBatch != null) sb.append(" --micro-batch ").append(microBatch);
    if (schedule != null) sb.append(" --schedule ").append(schedule.cliName());
    if (virtualStages != null) sb.append(" --virtual-stages ").append(virtualStages);
    if (recompute != null) sb.append(" --recompute ").append(recompute.cliName());
    if (cpAlgorithm != null) sb.append(" --cp-attention ").append(cpAlgorithm.cliName());
    return sb.length() == 0 ? "(nothing fixed)" : sb.toString().trim();
  }
}
