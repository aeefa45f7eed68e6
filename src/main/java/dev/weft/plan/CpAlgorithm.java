package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * How context parallelism exchanges keys and values. RING (ring attention, Liu et al. 2023; Megatron
 * "context parallelism"): each of cp ranks passes its K,V block around the ring, cp - 1 point-to-point
 * steps that overlap with the attention of the block in hand. ALL_TO_ALL (DeepSpeed-Ulysses, Jacobs et
 * al. 2023): an all-to-all turns sequence shards into head shards before attention and back after, so
 * it needs heads / tp divisible by cp and does not overlap. ALL_GATHER (Llama 3, Dubey et al. 2024 section
 * 3.3.2): each rank all-gathers the keys and values of the whole sequence, then attends with its own queries;
 * the gather is exposed but small with grouped-query attention (k of a heads), and any mask works. Weft's
 * runtime implements RING and ALL_TO_ALL.
 */
public enum CpAlgorithm {
  RING("ring"), ALL_TO_ALL("alltoall"), ALL_GATHER("allgather");

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
    if (k.equals("all-to-all") || k.equals("a2a") || k.equals("ulysses")) return ALL_TO_ALL; // older plan spellings
    if (k.equals("all-gather")) return ALL_GATHER;
    throw new WeftInputException("unknown --cp-attention '" + s + "'. Use ring, alltoall (as weft train) or allgather "
        + "(planned only: weft train has ring and alltoall).");
  }
}
