package dev.weft.parallel.tp;

import dev.weft.comm.Communicator;

/**
 * A rank's tensor-parallel group and mode: the communicator of the TP group (null for a group of one:
 * every region op then short-circuits) and whether Megatron sequence parallelism is on (LayerNorms,
 * residuals and the embedding output hold 1/t of the rows; the all-reduces become reduce-scatter and
 * all-gather pairs).
 */
public record TensorParallel(Communicator group, boolean sequenceParallel) {
  public static final TensorParallel NONE = new TensorParallel(null, false);

  public int size() {
    return group == null ? 1 : group.size();
  }

  public int rank() {
    return group == null ? 0 : group.rank();
  }

  /** Sequence parallelism in effect (on, and more than one rank). */
  public boolean sp() {
    return sequenceParallel && size() > 1;
  }

  /** Rows of the residual stream this rank holds for N = B*T rows: N, or N / t under sequence parallelism. */
  public int rows(int n) {
    return sp() ? n / size() : n;
  }

  /** The first of this rank's rows under sequence parallelism (0 otherwise). */
  public int rowStart(int n) {
    return sp() ? rank() * (n / size()) : 0;
  }
}
