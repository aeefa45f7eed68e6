package dev.weft.parallel.cp;

import dev.weft.WeftInputException;
import java.util.Arrays;

/**
 * Which token positions of each sequence a context-parallel rank holds, as a pure function of
 * (T, n, rank, layout). Every rank holds Tl = T / n positions, returned in increasing order; row t of the
 * rank's activations is the token at {@code positions[t]} (also the index into the position embedding).
 *
 * <ul>
 *   <li>{@link Kind#BALANCED} (for {@link ContextParallel.Method#RING}; the "zigzag" layout of
 *       Megatron-LM's context parallelism and of load-balanced ring attention, Brandon et al. 2023): the
 *       sequence is cut into 2n chunks of Tc = T / (2n); rank i holds chunks i and 2n-1-i, i.e.
 *       [i Tc, (i+1) Tc) and [(2n-1-i) Tc, (2n-i) Tc). Under the causal mask chunk c sees c+1 chunks, so
 *       every rank sees (i+1) + (2n-i) = 2n+1 (query chunk, key chunk) pairs: equal causal work. Needs
 *       T % (2n) == 0.</li>
 *   <li>{@link Kind#CONTIGUOUS} (for {@link ContextParallel.Method#ALLTOALL}): rank i holds
 *       [i T/n, (i+1) T/n). Needs T % n == 0. Under a ring the last rank would do n times the first's
 *       work; Ulysses attends over the full sequence per head group, so it is balanced anyway.</li>
 * </ul>
 */
public final class CpLayout {
  /** The two layouts. */
  public enum Kind { BALANCED, CONTIGUOUS }

  private CpLayout() {}

  /** The layout a method uses: RING balanced, ALLTOALL contiguous. */
  public static Kind kind(ContextParallel.Method method) {
    return method == ContextParallel.Method.RING ? Kind.BALANCED : Kind.CONTIGUOUS;
  }

  /** The positions rank {@code rank} of {@code n} holds under the layout of {@code method}. */
  public static int[] positions(int T, int n, int rank, ContextParallel.Method method) {
    return positions(T, n, rank, kind(method));
  }

  /** The positions rank {@code rank} of {@code n} holds under {@code kind}, increasing, length T / n. */
  public static int[] positions(int T, int n, int rank, Kind kind) {
    check(T, n, kind);
    if (rank < 0 || rank >= n) throw new IllegalArgumentException("rank " + rank + " is not in [0, " + n + ")");
    int tl = T / n;
    int[] p = new int[tl];
    if (kind == Kind.CONTIGUOUS) {
      for (int t = 0; t < tl; t++) p[t] = rank * tl + t;
    } else {
      int tc = T / (2 * n);
      for (int t = 0; t < tc; t++) {
        p[t] = rank * tc + t;
        p[tc + t] = (2 * n - 1 - rank) * tc + t;
      }
    }
    return p;
  }

  /** Throws a {@link WeftInputException} naming the constraint if T cannot be split over n ranks this way. */
  public static void check(int T, int n, Kind kind) {
    if (n < 1) throw new WeftInputException("context-parallel size must be >= 1, got " + n + ".");
    if (T < 1) throw new WeftInputException("sequence length must be >= 1, got " + T + ".");
    if (kind == Kind.BALANCED && T % (2 * n) != 0) {
      throw new WeftInputException("ring context parallelism over cp=" + n + " ranks uses the load-balanced layout"
          + " of 2 x cp = " + 2 * n + " equal chunks, so the sequence length must be divisible by " + 2 * n
          + "; got T=" + T + ". Use a context length that is a multiple of " + 2 * n + " or change cp.");
    }
    if (kind == Kind.CONTIGUOUS && T % n != 0) {
      throw new WeftInputException("all-to-all context parallelism over cp=" + n + " ranks splits the sequence into"
          + " cp equal chunks, so the sequence length must be divisible by " + n + "; got T=" + T
          + ". Use a context length that is a multiple of " + n + " or change cp.");
    }
  }

  /**
   * The layout that gives rank {@code rank} of {@code n} exactly these positions (T = n x length); BALANCED
   * when both do (n = 1). Throws IllegalArgumentException for positions of neither layout.
   */
  public static Kind kindOf(int[] positions, int n, int rank) {
    int T = positions.length * n;
    if (T % (2 * n) == 0 && Arrays.equals(positions, positions(T, n, rank, Kind.BALANCED))) return Kind.BALANCED;
    if (Arrays.equals(positions, positions(T, n, rank, Kind.CONTIGUOUS))) return Kind.CONTIGUOUS;
    throw new IllegalArgumentException("positions of rank " + rank + " of " + n + " are neither the balanced nor the"
        + " contiguous layout of T=" + T + " (use CpLayout.positions)");
  }

  /**
   * The layout's chunks of rank {@code rank}, as {start row in the rank's array, first absolute position,
   * length}: two of T / (2n) for BALANCED (kept apart even where they touch, rank n-1's), one of T / n for
   * CONTIGUOUS. The ring calls the kernels once per (query chunk, key chunk) pair, so no tile straddles two.
   */
  static int[][] chunks(int T, int n, int rank, Kind kind) {
    check(T, n, kind);
    if (kind == Kind.CONTIGUOUS) return new int[][] {{0, rank * (T / n), T / n}};
    int tc = T / (2 * n);
    return new int[][] {{0, rank * tc, tc}, {tc, (2 * n - 1 - rank) * tc, tc}};
  }
}
