package dev.weft.parallel.tp;

import dev.weft.model.ParameterLayout;

/**
 * Between a tensor-parallel rank's local flat tensors and the full (layout-independent, Hugging Face
 * shaped) flat tensors: {@link #assemble} all-gathers every rank's local buffer (they have equal sizes) and
 * puts each slice in its place; {@link #localPart} cuts a rank's slices from full tensors. Used for
 * checkpoints and gathered gradients, so a checkpoint saved under one layout loads under any other.
 */
public final class TpGather {
  private TpGather() {}

  /** The full flat tensors from every rank's local ones (a collective over the TP group). */
  public static float[] assemble(TensorParallel tp, ParameterLayout local, float[] localFlat) {
    ParameterLayout full = new ParameterLayout(local.spec());
    float[] out = new float[full.total()];
    int t = tp.size();
    if (t == 1) {
      local.insertInto(localFlat, full, out);
      return out;
    }
    int n = local.total();
    float[] all = new float[t * n];
    tp.group().allGather(localFlat, 0, all, 0, n);
    for (int j = 0; j < t; j++) {
      ParameterLayout lj = local.withTpRank(j);
      float[] part = new float[n];
      System.arraycopy(all, j * n, part, 0, n);
      lj.insertInto(part, full, out);
    }
    return out;
  }

  /** This rank's local flat tensors cut from full ones. */
  public static float[] localPart(ParameterLayout local, float[] fullFlat) {
    return local.extractFrom(new ParameterLayout(local.spec()), fullFlat);
  }
}
