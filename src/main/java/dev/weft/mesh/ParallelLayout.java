package dev.weft.mesh;

import dev.weft.WeftInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The device mesh: how the world's ranks are cut into pipeline stages, data-parallel replicas,
 * context-parallel and tensor-parallel shards. Immutable, pure arithmetic; algorithms ask it for
 * coordinates, groups and neighbours and never do rank arithmetic themselves.
 *
 * <p>Rank order, TP innermost: {@code rank = ((pp_i * dp + dp_i) * cp + cp_i) * tp + tp_i}, so the
 * members of a TP group are consecutive ranks (on one machine when possible) and PP stages are the
 * outermost blocks.
 *
 * <p>A group along a set of axes is the sorted list of the global ranks that share every other
 * coordinate with the given rank; e.g. {@code groupRanks(r, Axis.DP, Axis.CP)} is the DP x CP group
 * that reduces gradients when context parallelism is on.
 */
public final class ParallelLayout {
  private final EnumMap<Axis, Integer> degree = new EnumMap<>(Axis.class);
  private final EnumMap<Axis, Integer> stride = new EnumMap<>(Axis.class);
  private final int worldSize;

  private ParallelLayout(int dp, int pp, int cp, int tp) {
    degree.put(Axis.DP, dp);
    degree.put(Axis.PP, pp);
    degree.put(Axis.CP, cp);
    degree.put(Axis.TP, tp);
    stride.put(Axis.TP, 1);
    stride.put(Axis.CP, tp);
    stride.put(Axis.DP, tp * cp);
    stride.put(Axis.PP, tp * cp * dp);
    worldSize = dp * pp * cp * tp;
  }

  /**
   * A layout for {@code worldSize} ranks; throws {@link WeftInputException} naming the constraint
   * when a degree is below 1 or the product of the degrees is not the world size.
   */
  public static ParallelLayout of(int dp, int pp, int cp, int tp, int worldSize) {
    int[] d = {dp, pp, cp, tp};
    String[] names = {"dp", "pp", "cp", "tp"};
    for (int i = 0; i < 4; i++) {
      if (d[i] < 1) {
        throw new WeftInputException("Parallel degree --" + names[i] + " must be at least 1, got " + d[i]
            + ". Use 1 to switch that kind of parallelism off.");
      }
    }
    long product = (long) dp * pp * cp * tp;
    if (product != worldSize) {
      throw new WeftInputException("The layout dp=" + dp + " pp=" + pp + " cp=" + cp + " tp=" + tp
          + " needs dp*pp*cp*tp = " + product + " devices, but the world has " + worldSize
          + ". Constraint: dp*pp*cp*tp == world size; change the degrees or the number of devices"
          + (worldSize > 0 && worldSize % (pp * cp * tp) == 0 && dp != worldSize / (pp * cp * tp)
              ? " (e.g. dp=" + (worldSize / (pp * cp * tp)) + ")." : "."));
    }
    return new ParallelLayout(dp, pp, cp, tp);
  }

  /** A layout whose world size is the product of the degrees. */
  public static ParallelLayout of(int dp, int pp, int cp, int tp) {
    return of(dp, pp, cp, tp, (int) Math.max(0, Math.min(Integer.MAX_VALUE, (long) dp * pp * cp * tp)));
  }

  /** The one-device layout. */
  public static ParallelLayout single() {
    return new ParallelLayout(1, 1, 1, 1);
  }

  public int worldSize() { return worldSize; }
  public int dp() { return degree.get(Axis.DP); }
  public int pp() { return degree.get(Axis.PP); }
  public int cp() { return degree.get(Axis.CP); }
  public int tp() { return degree.get(Axis.TP); }

  /** The number of ranks along {@code axis} (the size of each group along it). */
  public int size(Axis axis) { return degree.get(axis); }

  /** This rank's coordinate along {@code axis}, in [0, size(axis)). */
  public int coordinate(int rank, Axis axis) {
    checkRank(rank);
    return (rank / stride.get(axis)) % degree.get(axis);
  }

  /** All four coordinates of {@code rank}. */
  public Map<Axis, Integer> coordinates(int rank) {
    EnumMap<Axis, Integer> c = new EnumMap<>(Axis.class);
    for (Axis a : Axis.values()) c.put(a, coordinate(rank, a));
    return c;
  }

  /** The global rank at the given coordinates (the inverse of {@link #coordinate}). */
  public int rankOf(int ppIndex, int dpIndex, int cpIndex, int tpIndex) {
    int[] c = {ppIndex, dpIndex, cpIndex, tpIndex};
    Axis[] axes = {Axis.PP, Axis.DP, Axis.CP, Axis.TP};
    for (int i = 0; i < 4; i++) {
      if (c[i] < 0 || c[i] >= size(axes[i])) {
        throw new IllegalArgumentException(axes[i].label() + " coordinate " + c[i] + " outside [0, " + size(axes[i]) + ")");
      }
    }
    return ((ppIndex * dp() + dpIndex) * cp() + cpIndex) * tp() + tpIndex;
  }

  /**
   * The sorted global ranks that share every coordinate of {@code rank} except those along
   * {@code axes}. One axis gives that axis's group; several give a composite group (DP x CP).
   */
  public int[] groupRanks(int rank, Axis... axes) {
    checkRank(rank);
    if (axes.length == 0) throw new IllegalArgumentException("name at least one axis");
    boolean[] varies = new boolean[Axis.values().length];
    for (Axis a : axes) varies[a.ordinal()] = true;
    // The base rank has coordinate 0 along every varying axis; enumerate the varying coordinates.
    int base = rank;
    int count = 1;
    for (Axis a : Axis.values()) {
      if (varies[a.ordinal()]) {
        base -= coordinate(rank, a) * stride.get(a);
        count *= size(a);
      }
    }
    int[] out = new int[count];
    for (int i = 0; i < count; i++) {
      int rest = i;
      int r = base;
      for (Axis a : Axis.values()) {
        if (!varies[a.ordinal()]) continue;
        r += (rest % size(a)) * stride.get(a);
        rest /= size(a);
      }
      out[i] = r;
    }
    Arrays.sort(out);
    return out;
  }

  /** Position of {@code rank} within its group along {@code axes} (its rank in that communicator). */
  public int indexInGroup(int rank, Axis... axes) {
    return Arrays.binarySearch(groupRanks(rank, axes), rank);
  }

  /** Every group along {@code axes}, each sorted, ordered by their smallest rank: a partition of the world. */
  public List<int[]> allGroups(Axis... axes) {
    List<int[]> groups = new ArrayList<>();
    boolean[] seen = new boolean[worldSize];
    for (int r = 0; r < worldSize; r++) {
      if (seen[r]) continue;
      int[] g = groupRanks(r, axes);
      for (int m : g) seen[m] = true;
      groups.add(g);
    }
    return groups;
  }

  /** The next rank in {@code rank}'s group along {@code axis}, in ring order (the last wraps to the first). */
  public int next(int rank, Axis axis) {
    return neighbour(rank, axis, +1);
  }

  /** The previous rank in {@code rank}'s group along {@code axis}, in ring order. */
  public int prev(int rank, Axis axis) {
    return neighbour(rank, axis, -1);
  }

  private int neighbour(int rank, Axis axis, int step) {
    int n = size(axis);
    int c = coordinate(rank, axis);
    int target = Math.floorMod(c + step, n);
    return rank + (target - c) * stride.get(axis);
  }

  /** True for ranks of the first pipeline stage (they read the token embedding). */
  public boolean isFirstStage(int rank) { return coordinate(rank, Axis.PP) == 0; }

  /** True for ranks of the last pipeline stage (they compute the loss). */
  public boolean isLastStage(int rank) { return coordinate(rank, Axis.PP) == pp() - 1; }

  /** The same rank position in the next pipeline stage; throws on the last stage. */
  public int nextStage(int rank) {
    if (isLastStage(rank)) throw new IllegalStateException("rank " + rank + " is on the last pipeline stage");
    return rank + stride.get(Axis.PP);
  }

  /** The same rank position in the previous pipeline stage; throws on the first stage. */
  public int prevStage(int rank) {
    if (isFirstStage(rank)) throw new IllegalStateException("rank " + rank + " is on the first pipeline stage");
    return rank - stride.get(Axis.PP);
  }

  /** "dp=2 pp=2 cp=1 tp=2". */
  @Override
  public String toString() {
    return "dp=" + dp() + " pp=" + pp() + " cp=" + cp() + " tp=" + tp();
  }

  /** The per-rank view: "dp=2 pp=2 cp=1 tp=2 | rank 5 = (pp 1, dp 0, cp 0, tp 1)". */
  public String toString(int rank) {
    return this + " | rank " + rank + " = (pp " + coordinate(rank, Axis.PP) + ", dp " + coordinate(rank, Axis.DP)
        + ", cp " + coordinate(rank, Axis.CP) + ", tp " + coordinate(rank, Axis.TP) + ")";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ParallelLayout p && p.degree.equals(degree);
  }

  @Override
  public int hashCode() {
    return degree.hashCode();
  }

  private void checkRank(int rank) {
    if (rank < 0 || rank >= worldSize) {
      throw new IllegalArgumentException("rank " + rank + " outside the world [0, " + worldSize + ")");
    }
  }
}
