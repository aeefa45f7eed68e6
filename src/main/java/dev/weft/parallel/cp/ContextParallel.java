package dev.weft.parallel.cp;

import dev.weft.comm.Communicator;
import dev.weft.kernels.Heads;
import dev.weft.tensor.BufferPool;
import java.util.Objects;

/**
 * A rank's context-parallel (CP) group and method. Context parallelism splits every sequence of T tokens
 * over the n ranks of the group: each rank holds Tl = T / n token rows of every activation (which rows:
 * {@link CpLayout}) and only attention needs the others' rows. {@code group} is the CP-group
 * communicator, null for a group of one (every operator then runs the local kernel without copies).
 *
 * <p>Methods: {@link Method#RING} ({@link RingAttention}: K/V blocks travel around the ring, overlapped
 * with attention; load-balanced layout) and {@link Method#ALLTOALL} ({@link UlyssesAttention},
 * DeepSpeed-Ulysses: all-to-alls switch between sequence-split and head-split; contiguous layout; needs
 * NH % n == 0).
 */
public record ContextParallel(Communicator group, Method method) {
  /** How the ranks of a CP group exchange what attention needs. */
  public enum Method {
    RING("ring"), ALLTOALL("alltoall");

    private final String cliName;

    Method(String cliName) {
      this.cliName = cliName;
    }

    /** The name on the command line: ring, alltoall. */
    public String cliName() {
      return cliName;
    }

    /** The method named {@code s} on a command line (all-to-all, ulysses accepted too). */
    public static Method parse(String s) {
      return switch (s.toLowerCase(java.util.Locale.ROOT)) {
        case "ring" -> RING;
        case "alltoall", "all-to-all", "ulysses" -> ALLTOALL;
        default -> throw new dev.weft.WeftInputException("--cp-attention must be ring or alltoall, got '" + s + "'.");
      };
    }
  }

  /** No context parallelism: a group of one. */
  public static final ContextParallel NONE = new ContextParallel(null, Method.RING);

  public ContextParallel {
    Objects.requireNonNull(method, "method");
  }

  public int size() {
    return group == null ? 1 : group.size();
  }

  public int rank() {
    return group == null ? 0 : group.rank();
  }

  /** The absolute positions (increasing) of the Tl = T / size() rows this rank holds: {@link CpLayout}. */
  public int[] positions(int T) {
    return CpLayout.positions(T, size(), rank(), method);
  }

  /**
   * The most floats this group's attention holds at once in a call ({@link RingAttention#transientFloats} or
   * {@link UlyssesAttention#transientFloats}), Tl rows of B sequences with this rank's heads h; 0 for a group
   * of one.
   */
  public long attentionBufferFloats(int B, int Tl, Heads h) {
    return bufferFloats(method, size(), B, Tl, h);
  }

  /** {@link #attentionBufferFloats} of a group of {@code n} ranks using {@code method}. */
  public static long bufferFloats(Method method, int n, int B, int Tl, Heads h) {
    if (n <= 1) return 0;
    return method == Method.RING ? RingAttention.transientFloats(B, Tl, h) : UlyssesAttention.transientFloats(B, Tl, h);
  }

  /** The attention operator for this group's method, its buffers on an unlimited device of their own. */
  public CpAttention attention() {
    return method == Method.RING ? new RingAttention() : new UlyssesAttention();
  }

  /** The attention operator for this group's method, its buffers taken from (and charged by) {@code pool}. */
  public CpAttention attention(BufferPool pool) {
    return method == Method.RING ? new RingAttention(pool) : new UlyssesAttention(pool);
  }
}
