package dev.weft.parallel.dp;

import dev.weft.comm.Communicator;
import dev.weft.model.ParameterLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * How ZeRO cuts the flat parameter buffer across the N ranks of a data-parallel group: every region
 * (embeddings, each block, the final LayerNorm; also the unit of gradient buckets and of ZeRO-3 gathers)
 * is split into N contiguous pieces of sizes differing by at most one ({@code ceil} first), and rank i owns
 * piece i of every region. A rank's shard is its pieces laid end to end, about P/N floats. Nothing is
 * padded and nothing is silently left unsharded: a region smaller than N gives some ranks empty pieces.
 */
public final class ShardPlan {
  /** One owned piece: flat offsets [flatStart, flatStart + length) stored at shard offset shardOffset. */
  public record Piece(int region, int flatStart, int length, int shardOffset) {}

  private final ParameterLayout layout;
  private final int ranks;
  private final int me;
  private final int[][] counts;
  private final List<Piece> pieces = new ArrayList<>();
  private final int shardSize;

  public ShardPlan(ParameterLayout layout, int ranks, int me) {
    if (ranks < 1 || me < 0 || me >= ranks) throw new IllegalArgumentException("rank " + me + " of " + ranks);
    this.layout = layout;
    this.ranks = ranks;
    this.me = me;
    int regions = layout.regionCount();
    counts = new int[regions][];
    int shard = 0;
    for (int r = 0; r < regions; r++) {
      counts[r] = Communicator.evenCounts(layout.regionSize(r), ranks);
      int before = 0;
      for (int i = 0; i < me; i++) before += counts[r][i];
      pieces.add(new Piece(r, layout.regionStart(r) + before, counts[r][me], shard));
      shard += counts[r][me];
    }
    shardSize = shard;
  }

  public ParameterLayout layout() { return layout; }
  public int ranks() { return ranks; }
  public int rank() { return me; }

  /** This rank's pieces, one per region, in region order. */
  public List<Piece> pieces() { return pieces; }

  public Piece piece(int region) { return pieces.get(region); }

  /** The piece sizes of a region, indexed by rank (what reduce-scatter and all-gather take as counts). */
  public int[] counts(int region) { return counts[region]; }

  /** Floats this rank owns. */
  public int shardSize() { return shardSize; }
}
