package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * How context parallelism exchanges keys and values. RING (ring attention, Liu et al. 2023; Megatron
 * "context parallelism"): each of cp ranks passes its K,V block around the ring, cp - 1 point-to-point
 * steps that overlap with the attention of the block in hand. ALL_TO_ALL (DeepSpeed-Ulysses, Jacobs et
 * al. 2023): an all-to-all turns sequence shards into head shards before attention and back after, so
 * it needs heads / tp divisible by cp and does not overlap.
 */
public enum CpAlgorithm {
  RING("ring"), ALL_TO_ALL("all-to-all");

  private final String cli;

  CpAlgorithm(String cli) {
    this.cli = cli;
  }

  public String cliName() {
    return cli;
  }

  public static CpAlgorithm parse(String s) {
    String k = s.toLowerCase(Locale.ROOT);
    for (CpAlgorithm x : values()) if (x.cli.equals(k)) return x;
    if (k.equals("a2a") || k.equals("ulysses")) return ALL_TO_ALL;
    throw new WeftInputException("unknown --cp-algorithm '" + s + "'. Use ring or all-to-all.");
  }
}
