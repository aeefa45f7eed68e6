package dev.weft.decoder;

import dev.weft.kernels.Heads;
import dev.weft.model.ModelSpec;
import dev.weft.model.NormSpec;

/**
 * The one statement of how many floats a decoder rank's activations take, for a micro-batch of B sequences
 * of T positions (T = this rank's positions: the context over cp) under tensor parallelism of degree t,
 * with or without sequence parallelism: what {@link Activations} and {@link Workspace} allocate, what the
 * run's by-hand memory line adds up, and what the planner's runtime memory model predicts.
 *
 * <p>With N = B T rows, R = N (N / t under sequence parallelism) rows of the residual stream, C the width,
 * on this rank: Wqkv = (H + 2 KV) hd / t features of q|k|v, Wa = H hd / t of attention output, Wi = F / t
 * (2F / t gated) of the MLP input projection, Wo = F / t after its activation, Hl = H / t query heads,
 * Vl = Vp / t vocabulary rows, and s = 2 statistics per row for LayerNorm (mean, rstd), 1 for RMSNorm:
 * <pre>
 *   per layer   ln1, res2, ln2, res3 [R,C]; norm statistics 2 s R; qkv [N,Wqkv]; lse [B,Hl,T] (attention is
 *               blockwise: each row's log-sum-exp, never T x T scores); atty [N,Wa]; fch [N,Wi]; fact [N,Wo]
 *   embedding   encoded [R,C]
 *   head        lnf [R,C], its statistics s R; logits [N,Vl]; losses [N]
 *   scratch     dres [R,C]; dln, dtmp [N,C]; datty [N,Wa]; dqkv [N,Wqkv]; dfch [N,Wi]; dfact [N,Wo];
 *               under sequence parallelism also full, dfull [N,C] and dlnRows, rowOut [R,C]
 *   deferred    (zero-bubble W pass, per block) dY of both output projections [N,C], of the MLP input [N,Wi]
 *               and of q|k|v [N,Wqkv]
 * </pre>
 * Under full recomputation a block keeps only res3 and the workspace holds one block's other activations.
 */
public final class ActivationShapes {
  public final int B, T, N, R, C;
  public final int tp;
  public final boolean sp;
  /** Statistics per row of each norm: 2 (LayerNorm mean and rstd) or 1 (RMSNorm rstd). */
  public final int normStats;
  /** This rank's heads. */
  public final Heads heads;
  public final int qkvWidth, attWidth, fcInWidth, fcOutWidth, localVocab;

  public ActivationShapes(ModelSpec spec, int B, int T, int tp, boolean sp) {
    this.B = B;
    this.T = T;
    this.N = B * T;
    this.tp = tp;
    this.sp = sp && tp > 1;
    this.R = this.sp ? N / tp : N;
    this.C = spec.dModel();
    this.normStats = spec.block().norm1().kind() == NormSpec.Kind.LAYER_NORM ? 2 : 1;
    this.heads = new Heads(spec.heads() / tp, spec.kvHeads() / tp, spec.headDim());
    this.qkvWidth = heads.qkvWidth();
    this.attWidth = heads.qWidth();
    this.fcInWidth = spec.mlp().inWidth() / tp;
    this.fcOutWidth = spec.mlp().hidden() / tp;
    this.localVocab = (spec.vocab() + tp - 1) / tp;
  }

  // ---- the buffers, one by one --------------------------------------------------------------------------

  /** A row-sharded [R, C] tensor (ln1, res2, ln2, res3, encoded, lnf, dres, ...). */
  public long rows() { return (long) R * C; }
  /** A norm's statistics of one kind (mean or rstd): R floats. */
  public long stat() { return R; }
  public long qkv() { return (long) N * qkvWidth; }
  public long lse() { return (long) B * heads.q() * T; }
  public long atty() { return (long) N * attWidth; }
  public long fcIn() { return (long) N * fcInWidth; }
  public long fcOut() { return (long) N * fcOutWidth; }
  public long logits() { return (long) N * localVocab; }
  public long full() { return (long) N * C; }

  // ---- their sums ---------------------------------------------------------------------------------------

  /** One block's stored activations: 4 R C + 2 s R + N (Wqkv + Wa + Wi + Wo) + B Hl T. */
  public long layerFloats() {
    return 4 * rows() + 2L * normStats * stat() + qkv() + lse() + atty() + fcIn() + fcOut();
  }

  /** A block under full recomputation keeps only its output res3: R C. */
  public long recomputedLayerFloats() {
    return rows();
  }

  /** One block's activations other than its output: what the workspace holds for recomputation. */
  public long blockFloats() {
    return layerFloats() - rows();
  }

  /** The embedding's output, on the first stage: R C. */
  public long embeddingFloats() {
    return rows();
  }

  /** The head's activations, on the last stage: lnf R C, its statistics s R, logits N Vl, losses N. */
  public long headFloats() {
    return rows() + (long) normStats * stat() + logits() + N;
  }

  /** Backward scratch, once per rank. */
  public long scratchFloats() {
    return rows() + 2 * full() + atty() + qkv() + fcIn() + fcOut() + (sp ? 2 * full() + 2 * rows() : 0);
  }

  /** Workspace: the scratch, plus one block's activations under recomputation. */
  public long workspaceFloats(boolean recompute) {
    return scratchFloats() + (recompute ? blockFloats() : 0);
  }

  /** Output gradients a zero-bubble backward keeps for one block until its weight pass. */
  public long deferredFloats() {
    return 2 * full() + fcIn() + qkv();
  }

  /** {@link #totalFloats} in bytes (fp32) for b sequences of T positions under tp (and sp). */
  public static long totalBytes(ModelSpec m, int B, int T, int tp, boolean sp, boolean recompute) {
    return Float.BYTES * new ActivationShapes(m, B, T, tp, sp).totalFloats(m.layers(), recompute);
  }

  /**
   * All of one rank's activations without a pipeline: every layer (or its output under recomputation), the
   * embedding, the head and the workspace.
   */
  public long totalFloats(int layers, boolean recompute) {
    long perLayer = recompute ? recomputedLayerFloats() : layerFloats();
    return layers * perLayer + embeddingFloats() + headFloats() + workspaceFloats(recompute);
  }
}
