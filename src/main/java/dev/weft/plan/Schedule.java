package dev.weft.plan;

import dev.weft.parallel.Parallelism;
import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * Pipeline schedules and their idle time ("bubble") in units of one micro-batch's forward+backward on
 * one stage, for p stages, m micro-batches and v virtual stages per device:
 * <ul>
 * <li>NONE (p = 1): no bubble.
 * <li>GPIPE (Huang et al. 2019) and ONE_F_ONE_B (PipeDream-Flush; Narayanan et al. 2021 section 2.2.1):
 *     p - 1, i.e. a fraction (p-1)/(m+p-1) of the step.
 * <li>INTERLEAVED (Narayanan et al. 2021 section 2.2.2): (p - 1) / v.
 * <li>ZB_H1 (Qi et al. 2023, "Zero Bubble Pipeline Parallelism", section 3.1, schedule ZB-H1): about a
 *     third of 1F1B's, (p - 1) / 3, at 1F1B's peak memory.
 * </ul>
 */
public enum Schedule {
  NONE("none"), GPIPE("gpipe"), ONE_F_ONE_B("1f1b"), INTERLEAVED("interleaved"), ZB_H1("zb");

  private final String cli;

  Schedule(String cli) {
    this.cli = cli;
  }

  public String cliName() {
    return cli;
  }

  /** Idle time of the worst stage in micro-batch units (see the class comment). */
  public double bubbleMicroBatches(int p, int v) {
    if (p <= 1) return 0;
    return switch (this) {
      case NONE -> 0;
      case GPIPE, ONE_F_ONE_B -> p - 1;
      case INTERLEAVED -> (p - 1) / (double) v;
      case ZB_H1 -> (p - 1) / 3.0;
    };
  }

  /** The bubble as a fraction of the step: bubble / (m + bubble). */
  public double bubbleFraction(int p, int m, int v) {
    double b = bubbleMicroBatches(p, v);
    return b / (m + b);
  }

  public static Schedule parse(String s) {
    String k = s.toLowerCase(Locale.ROOT);
    for (Schedule x : values()) if (x.cli.equals(k)) return x;
    if (k.equals("zb-h1") || k.equals("zbh1") || k.equals("zero-bubble")) return ZB_H1; // the older plan spelling
    if (k.equals("naive")) {
      throw new WeftInputException("--schedule naive (one micro-batch at a time through the whole pipeline) is not "
          + "modelled by the planner; it is never faster than gpipe, which is.");
    }
    throw new WeftInputException("unknown --schedule '" + s + "'. Use gpipe, 1f1b, interleaved or zb (as weft train).");
  }
}
