package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * How the attention core (softmax(Q K^T / sqrt(d)) V) runs, which decides its time:
 * <ul>
 * <li>MATERIALIZED (Megatron-LM 2021-22; Narayanan et al. 2021 section 4.2, Korthikanti et al. 2022 section 4):
 *     two batched matrix products per head, Q K^T writing the s x s scores to memory and P V reading them back,
 *     with a fused scale-mask-softmax and a dropout between them. The products run at the GEMM curve of
 *     their shapes (head width d as the reduction: memory-bound for small d), the score traffic at memory
 *     bandwidth: forward 9 bytes per score (softmax reads 2, writes 2; dropout reads 2, writes 2 and a 1-byte
 *     mask), backward 11 (dropout: mask and gradient in, gradient out; softmax: output and gradient in,
 *     gradient out). All s x s scores are computed, masked ones included.
 * <li>FLASH (blockwise, IO-aware: Dao et al. 2022, Dao 2023 "FlashAttention-2"): scores never reach memory;
 *     causal blocks above the diagonal are skipped, so the work is half of 4 s h per token forward, and the
 *     backward 2.5x the forward (FlashAttention-2, section 4.1: five products, one recomputing the scores).
 *     It runs at the device's measured attention-kernel rate ({@link ClusterSpec.Kernels#attentionFlops}).
 * </ul>
 * Weft's own runtime is blockwise (no s x s scores); on a calibrated CPU the attention rate is the matrix rate.
 */
public enum AttentionKernel {
  MATERIALIZED("materialized"), FLASH("flash");

  private final String cli;

  AttentionKernel(String cli) {
    this.cli = cli;
  }

  public String cliName() {
    return cli;
  }

  public static AttentionKernel parse(String s) {
    String k = s.toLowerCase(Locale.ROOT);
    for (AttentionKernel a : values()) if (a.cli.equals(k)) return a;
    throw new WeftInputException("unknown --attention '" + s + "'. Use flash or materialized.");
  }
}
