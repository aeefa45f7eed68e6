package dev.weft.parallel.pp;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * The pipeline schedules Weft runs, by the names the command line uses ({@link #cliName}):
 * <ul>
 *   <li>{@link #NAIVE} {@code naive}: one micro-batch at a time through all stages (model parallelism);
 *   <li>{@link #GPIPE} {@code gpipe}: all forwards, then all backwards (Huang et al. 2019);
 *   <li>{@link #ONE_F_ONE_B} {@code 1f1b}: warm-up forwards, then one forward one backward (Narayanan et al. 2021);
 *   <li>{@link #INTERLEAVED} {@code interleaved}: 1F1B over v chunks per rank (Narayanan et al. 2021, 2.2);
 *   <li>{@link #ZERO_BUBBLE} {@code zb}: ZB-H1, backward split into input and deferred weight passes (Qi et al. 2023).
 * </ul>
 */
public enum PipelineSchedule {
  NAIVE("naive"),
  GPIPE("gpipe"),
  ONE_F_ONE_B("1f1b"),
  INTERLEAVED("interleaved"),
  ZERO_BUBBLE("zb");

  private final String cliName;

  PipelineSchedule(String cliName) {
    this.cliName = cliName;
  }

  /** The name on the command line. */
  public String cliName() {
    return cliName;
  }

  /** Whether backward is split into an input pass and a deferred weight pass. */
  public boolean defersWeights() {
    return this == ZERO_BUBBLE;
  }

  /** The schedule named {@code s} ({@code zb-h1} accepted for {@code zb}); bad input names the choices. */
  public static PipelineSchedule parse(String s) {
    String n = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
    for (PipelineSchedule k : values()) if (k.cliName.equals(n)) return k;
    if (n.equals("zb-h1") || n.equals("zbh1")) return ZERO_BUBBLE;
    throw new WeftInputException("Unknown pipeline schedule '" + s + "'. Choose one of naive, gpipe, 1f1b, "
        + "interleaved, zb.");
  }

  @Override
  public String toString() {
    return cliName;
  }
}
