package dev.weft.plan;

/**
 * What the training software does that changes time but not the layout: the attention kernel
 * ({@link AttentionKernel}), whether the data-parallel gradient reduction overlaps the backward pass
 * (PyTorch DDP buckets and FSDP prefetch do; Megatron-LM's 2021 data parallelism all-reduced after the
 * pipeline had drained, Narayanan et al. 2021 section 4, and DeepSpeed's pipeline engine reduces gradients
 * in a step of its own after the last micro-batch), the bytes per gradient element the data-parallel
 * collectives move (0: the precision's gradient bytes; Llama 3 reduce-scatters in fp32, Dubey et al. 2024
 * section 3.3.2, "Numerical stability"), whether pipeline sends cut the activation across the tensor-parallel
 * ranks (Megatron-LM's scatter/gather, Narayanan et al. 2021 section 4.1: b s h / t per rank over the
 * inter-node link, then an NVLink all-gather) or send it whole from every rank, and how the memory-bound
 * kernels run ({@link Elementwise}).
 */
public record Software(AttentionKernel attention, boolean overlapDp, int gradReduceBytes, boolean pipelineScatterGather,
                       Elementwise elementwise) {
  /**
   * How the memory-bound kernels (norms, rotary embeddings, the MLP's activation, the loss) run, which decides
   * the bytes they move ({@link TimeModel} counts them kernel by kernel):
   * <ul>
   * <li>FUSED: one pass per operation, statistics in registers: Megatron-LM's and Transformer Engine's fused
   *     kernels, torch.compile, and Weft's own runtime;
   * <li>EAGER: PyTorch eager as Llama reference code (Hugging Face, torchtitan without compile) writes it: RMSNorm
   *     as six kernels in fp32 (upcast, square, mean, multiply by the reciprocal root, downcast, gain), rotary
   *     embeddings as an fp32 complex product between an upcast and a downcast, SiLU and the gate product as two
   *     kernels, the loss over fp32 logits. LayerNorm stays one kernel (PyTorch has a native one).
   * </ul>
   */
  public enum Elementwise { FUSED, EAGER }

  /** Today's default stack: FlashAttention, overlapped data parallelism, the precision's gradients, scatter/gather. */
  public static final Software DEFAULT = new Software(AttentionKernel.FLASH, true, 0, true);

  /** With fused memory-bound kernels. */
  public Software(AttentionKernel attention, boolean overlapDp, int gradReduceBytes, boolean pipelineScatterGather) {
    this(attention, overlapDp, gradReduceBytes, pipelineScatterGather, Elementwise.FUSED);
  }

  public Software {
    if (elementwise == null) elementwise = Elementwise.FUSED;
  }

  public Software withAttention(AttentionKernel a) {
    return new Software(a, overlapDp, gradReduceBytes, pipelineScatterGather, elementwise);
  }

  public Software withOverlapDp(boolean o) {
    return new Software(attention, o, gradReduceBytes, pipelineScatterGather, elementwise);
  }

  public Software withElementwise(Elementwise e) {
    return new Software(attention, overlapDp, gradReduceBytes, pipelineScatterGather, e);
  }

  /** Bytes per gradient element in data-parallel collectives under {@code p}. */
  public int gradBytes(Precision p) {
    return gradReduceBytes > 0 ? gradReduceBytes : p.gradBytes;
  }
}
