package dev.weft.parallel.pp;

import dev.weft.WeftInputException;
import java.util.List;

/**
 * The schedule generators by name, and the one place their constraints are checked. Names: {@code naive},
 * {@code gpipe}, {@code 1f1b}, {@code interleaved}, {@code zb} (ZB-H1). Pure.
 *
 * <p>Constraints (each failure is a {@link WeftInputException} naming it): p, m, v >= 1; v > 1 only with
 * interleaved, and interleaved needs v >= 2 and m % p == 0 (hence m >= p); with a {@link StagePlan}, the plan
 * must have p * v chunks (its own check already ensures layers >= p * v). naive, gpipe, 1f1b and zb accept
 * m < p (they stay correct, only the bubble grows).
 */
public final class Schedules {
  /** Every generator name. */
  public static final List<String> NAMES = List.of("naive", "gpipe", "1f1b", "interleaved", "zb");

  private Schedules() {}

  /** The schedule named {@code name} for p ranks, m micro-batches and v chunks per rank. */
  public static Schedule generate(String name, int p, int m, int v) {
    return generate(PipelineSchedule.parse(name), p, m, v);
  }

  /** The schedule {@code kind} for p ranks, m micro-batches and v chunks per rank. */
  public static Schedule generate(PipelineSchedule kind, int p, int m, int v) {
    String n = kind.cliName();
    checkShape(n, p, m, v);
    return switch (n) {
      case "naive" -> NaiveSchedule.generate(p, m);
      case "gpipe" -> GPipeSchedule.generate(p, m);
      case "1f1b" -> OneFOneBSchedule.generate(p, m);
      case "interleaved" -> InterleavedSchedule.generate(p, m, v);
      default -> ZeroBubbleH1Schedule.generate(p, m);
    };
  }

  /** The schedule {@code kind} for the plan's p and v, after checking the plan fits. */
  public static Schedule generate(PipelineSchedule kind, int m, StagePlan plan) {
    return generate(kind, plan.p(), m, plan.v());
  }

  /** Throws {@link WeftInputException} when (p, m, v) does not suit the schedule {@code name}. */
  static void checkShape(String name, int p, int m, int v) {
    if (p < 1) throw new WeftInputException("Pipeline degree p must be at least 1, got " + p + ".");
    if (m < 1) throw new WeftInputException("Micro-batches per step m must be at least 1, got " + m + ".");
    if (v < 1) throw new WeftInputException("Virtual stages per rank v must be at least 1, got " + v + ".");
    if (!name.equals("interleaved") && v != 1) {
      throw new WeftInputException("Schedule '" + name + "' runs one model chunk per rank, but v=" + v
          + " virtual stages per rank were asked for. Use --schedule interleaved for v > 1, or v=1.");
    }
    if (name.equals("interleaved")) {
      if (v < 2) {
        throw new WeftInputException("Schedule 'interleaved' needs at least 2 virtual stages per rank, got v=" + v
            + ". With one chunk per rank use --schedule 1f1b (the same thing without interleaving).");
      }
      if (m % p != 0) {
        int up = ((m + p - 1) / p) * p;
        throw new WeftInputException("Schedule 'interleaved' needs the micro-batches to be a multiple of the pipeline"
            + " degree (m % p == 0, so m >= p), got m=" + m + " p=" + p + ": each chunk runs over groups of p"
            + " micro-batches before the next chunk, as in Megatron-LM. Use m=" + up
            + (m < p ? " (m < p leaves ranks with nothing to interleave)" : "") + ", or --schedule 1f1b.");
      }
    }
  }
}
