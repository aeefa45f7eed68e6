package dev.weft.parallel.pp;

/**
 * One step of a pipeline rank's schedule: a compute pass over one model chunk for one micro-batch, or the
 * send / receive that moves an activation or a gradient across a rank boundary.
 *
 * <p>{@code stage} is always the <em>local</em> virtual stage the action serves: the stage that computes,
 * the stage whose output is sent (SEND_ACTIVATION) or whose input gradient is sent (SEND_GRADIENT), the stage
 * whose input is received (RECV_ACTIVATION) or whose output gradient is received (RECV_GRADIENT). Virtual stage
 * s lives on PP rank {@code s % p} (Megatron interleaving: chunk c of rank r is stage {@code c * p + r}).
 * {@code peer} is the other PP-group rank for a send or receive, and -1 for compute.
 */
public record Action(Kind kind, int stage, int microBatch, int peer) {
  /** What an action does. */
  public enum Kind {
    /** Forward pass of one chunk. */
    FORWARD("F"),
    /** Full backward: input gradient and weight gradient together. */
    BACKWARD("B"),
    /** Zero-bubble split, first half: the input gradient only (on the critical path). */
    BACKWARD_INPUT("BI"),
    /** Zero-bubble split, second half: the weight gradient (deferrable). */
    BACKWARD_WEIGHT("BW"),
    SEND_ACTIVATION("SA"),
    RECV_ACTIVATION("RA"),
    SEND_GRADIENT("SG"),
    RECV_GRADIENT("RG");

    private final String shortName;

    Kind(String shortName) {
      this.shortName = shortName;
    }

    public String shortName() { return shortName; }

    public boolean isCompute() { return ordinal() <= BACKWARD_WEIGHT.ordinal(); }

    public boolean isSend() { return this == SEND_ACTIVATION || this == SEND_GRADIENT; }

    public boolean isRecv() { return this == RECV_ACTIVATION || this == RECV_GRADIENT; }

    /** True for the passes that produce the input gradient (B or BI): they end a micro-batch's "in flight" life. */
    public boolean producesInputGradient() { return this == BACKWARD || this == BACKWARD_INPUT; }
  }

  public Action {
    if (kind == null) throw new NullPointerException("kind");
    if (stage < 0 || microBatch < 0) {
      throw new IllegalArgumentException("negative stage or micro-batch in " + kind + " " + stage + " " + microBatch);
    }
    if (kind.isCompute() != (peer == -1)) {
      throw new IllegalArgumentException(kind + ": peer must be -1 for compute and a rank for send/recv, got " + peer);
    }
  }

  public static Action compute(Kind kind, int stage, int microBatch) {
    return new Action(kind, stage, microBatch, -1);
  }

  public static Action comm(Kind kind, int stage, int microBatch, int peer) {
    return new Action(kind, stage, microBatch, peer);
  }

  /** "F3.1" (forward, stage 3, micro-batch 1) or "SA3.1>2" (send stage 3's output of micro-batch 1 to rank 2). */
  @Override
  public String toString() {
    String s = kind.shortName() + stage + "." + microBatch;
    if (kind.isSend()) return s + ">" + peer;
    if (kind.isRecv()) return s + "<" + peer;
    return s;
  }
}
