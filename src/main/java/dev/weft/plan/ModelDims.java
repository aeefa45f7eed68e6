package dev.weft.plan;

import dev.weft.WeftInputException;
import dev.weft.models.gpt2.GPT2Config;

/**
 * The dimensions of a decoder-only transformer that the planner's formulas need, and nothing else: the one
 * place the planner reads a model's shape, built from a family's {@link dev.weft.model.ModelSpec} (or a
 * {@link GPT2Config}). Not to be confused with {@link dev.weft.model.ModelShape}, the command line's shape
 * overrides. Symbols: L layers, h hidden, a query heads, k key/value heads, d = h/a the
 * head width, f the MLP width, V vocabulary, s sequence.
 *
 * <p><b>Parameters per layer</b> (matrices; Shoeybi et al. 2019 for GPT, Touvron et al. 2023 / Dubey et al.
 * 2024 for Llama): attention q and output projections 2h^2, keys and values 2 h k d (grouped-query attention,
 * Ainslie et al. 2023: k < a heads share keys and values); MLP 2hf, or 3hf when gated (SwiGLU: gate, up and
 * down projections). GPT-2 (a = k, f = 4h, not gated) gives 12h^2. Biases (GPT-2): q,k,v (h + 2kd), output h,
 * MLP f (2f gated) and h. Norms: two per layer, 2h each with a bias (LayerNorm), h without (RMSNorm); one
 * final norm. Embeddings: token Vh, plus a separate output head Vh when not tied, plus learned positions sh.
 * Tensor parallelism splits the matrices and the column biases (q,k,v and the first MLP), replicates norms and
 * row biases (output projection and second MLP).
 *
 * <p><b>FLOPs per token</b> (a multiply-add is 2): forward 2 x (layer matrices) + attention 4 s h (scores and
 * the weighted sum over s keys, every query head, counted without the causal half as Narayanan et al. 2021 and
 * Chowdhery et al. 2022 count it) + logits 2hV; training (forward and backward) 3x that. For GPT-2 this is
 * Narayanan's 72 L h^2 (1 + s/(6h) + V/(12 L h)).
 *
 * @param dropout whether training applies dropout (GPT-2 does; Llama does not): it adds 1-byte masks to
 *                Korthikanti's activation count and traffic to the elementwise kernels
 */
public record ModelDims(String name, int layers, int hidden, int heads, int kvHeads, int ffn, boolean gated, int vocab,
                         int seq, boolean tiedEmbeddings, boolean learnedPositions, boolean biases, boolean dropout) {

  public ModelDims {
    if (layers < 1 || hidden < 1 || heads < 1 || kvHeads < 1 || ffn < 1 || vocab < 1 || seq < 1) {
      throw new WeftInputException("a model needs positive layers, hidden, heads, kv heads, ffn, vocab and sequence; got "
          + layers + ", " + hidden + ", " + heads + ", " + kvHeads + ", " + ffn + ", " + vocab + ", " + seq + ".");
    }
    if (hidden % heads != 0) {
      throw new WeftInputException("the hidden width " + hidden + " must be a multiple of the " + heads + " heads.");
    }
    if (heads % kvHeads != 0) {
      throw new WeftInputException("the " + heads + " query heads must be a multiple of the " + kvHeads
          + " key/value heads (grouped-query attention).");
    }
  }

  /** A GPT-2 shape: a = k, f = 4h, LayerNorm, biases, dropout, learned positions, tied head. */
  public static ModelDims of(GPT2Config c) {
    return new ModelDims("gpt2", c.layers(), c.dModel(), c.heads(), c.heads(), 4 * c.dModel(), false, c.vocab(),
        c.context(), true, true, true, true);
  }

  /**
   * The shape of a model specification: its widths, heads, MLP gating, tying, learned positions and biases
   * as the spec declares them; dropout only for GPT-2 (the family that trains with it in the published runs).
   */
  public static ModelDims of(dev.weft.model.ModelSpec s) {
    return new ModelDims(s.family().name(), s.layers(), s.dModel(), s.heads(), s.kvHeads(), s.ffn(), s.mlp().gated(),
        s.vocab(), s.context(), s.tied(), s.positionEmbedding() != null, !s.attention().qkv().biases().isEmpty(),
        s.family().name().equals("gpt2"));
  }

  /** A Llama-family shape: RMSNorm, rotary positions, no biases, no dropout, SwiGLU MLP, untied head. */
  public static ModelDims llama(String name, int layers, int hidden, int heads, int kvHeads, int ffn, int vocab, int seq) {
    return new ModelDims(name, layers, hidden, heads, kvHeads, ffn, true, vocab, seq, false, false, false, false);
  }

  /** The same model trained on sequences of {@code s} tokens. */
  public ModelDims withSeq(int s) {
    return new ModelDims(name, layers, hidden, heads, kvHeads, ffn, gated, vocab, s, tiedEmbeddings, learnedPositions,
        biases, dropout);
  }

  /** The GPT2Config of a GPT-2 shape (Weft's runtime models); other shapes are refused with the reason. */
  public GPT2Config toGpt2() {
    if (kvHeads != heads || ffn != 4 * hidden || gated || !tiedEmbeddings || !learnedPositions || !biases) {
      throw new WeftInputException("the model " + this + " is not a GPT-2 shape (needs kv heads = heads, ffn = 4 x hidden, "
          + "an ungated MLP, biases, learned positions and a tied head); Weft's runtime memory model only knows GPT-2.");
    }
    return new GPT2Config(layers, hidden, heads, seq, vocab);
  }

  /**
   * The runtime model specification of this shape, for Weft's runtime memory model: GPT-2 shapes as GPT-2, gated
   * shapes without biases or learned positions as Llama (rope theta and norm epsilon do not change any size);
   * other shapes are refused with the reason.
   */
  public dev.weft.model.ModelSpec toSpec() {
    if (isGpt2()) return toGpt2().spec();
    if (gated && !biases && !learnedPositions) {
      return new dev.weft.models.llama.LlamaConfig(layers, hidden, heads, kvHeads, headDim(), ffn, seq, vocab, 500000,
          1e-5, tiedEmbeddings).spec();
    }
    throw new WeftInputException("the model " + this + " is neither a GPT-2 nor a Llama shape; Weft's runtime memory "
        + "model knows only those families.");
  }

  public boolean isGpt2() {
    return kvHeads == heads && ffn == 4 * hidden && !gated && tiedEmbeddings && learnedPositions && biases;
  }

  /** Width of one head, d = h / a. */
  public int headDim() {
    return hidden / heads;
  }

  /** Width of the keys (and of the values), k d. */
  public long kvDim() {
    return (long) kvHeads * headDim();
  }

  /** Width of the fused q,k,v projection's output: h + 2 k d. */
  public long qkvWidth() {
    return hidden + 2 * kvDim();
  }

  /** Width of the MLP's first projection: f, or 2f when gated. */
  public long mlpInWidth() {
    return gated ? 2L * ffn : ffn;
  }

  /** Matrix parameters of one layer: h (h + 2kd) + h^2 + h f (2 or 3 matrices). */
  public long layerMatrixParams() {
    long h = hidden;
    return h * qkvWidth() + h * h + h * mlpInWidth() + (long) ffn * h;
  }

  /** Parameters of one layer that tensor parallelism splits: the matrices and the column biases. */
  public long layerSplitParams() {
    return layerMatrixParams() + (biases ? qkvWidth() + mlpInWidth() : 0);
  }

  /** Parameters of one layer every TP rank keeps whole: two norms and the row biases. */
  public long layerReplicatedParams() {
    long norms = 2L * (biases ? 2 : 1) * hidden;
    return norms + (biases ? 2L * hidden : 0);
  }

  public long layerParams() {
    return layerSplitParams() + layerReplicatedParams();
  }

  /** The token embedding (and the separate output head when untied): V h each. */
  public long embeddingParams() {
    return (long) vocab * hidden;
  }

  public long finalNormParams() {
    return (biases ? 2L : 1L) * hidden;
  }

  public long positionParams() {
    return learnedPositions ? (long) seq * hidden : 0;
  }

  /** Every parameter: L layers + token embedding (+ head when untied) + positions + final norm. */
  public long parameterCount() {
    return layers * layerParams() + embeddingParams() * (tiedEmbeddings ? 1 : 2) + positionParams() + finalNormParams();
  }

  /** Forward FLOPs per token of one layer's matrix products: 2 x matrix parameters. */
  public double layerMatrixFlops() {
    return 2.0 * layerMatrixParams();
  }

  /** Forward FLOPs per token of one layer's attention over s keys (no causal half): 4 s h. */
  public double attentionFlops(double keys) {
    return 4.0 * keys * hidden;
  }

  /** Forward FLOPs per token of the output logits: 2 h V. */
  public double logitFlops() {
    return 2.0 * hidden * vocab;
  }

  /**
   * Model FLOPs per trained token (forward and backward, no recomputation): 3 x (L (matrices + attention) +
   * logits). GPT-2: 72 L h^2 + 12 L h s + 6 h V (Narayanan et al. 2021, Appendix).
   */
  public double modelFlopsPerToken() {
    return 3 * (layers * (layerMatrixFlops() + attentionFlops(seq)) + logitFlops());
  }

  /** Extra FLOPs per token of recomputation: full repeats each layer's forward, selective its attention. */
  public double recomputeFlopsPerToken(Recompute r) {
    return switch (r) {
      case NONE -> 0;
      case SELECTIVE -> layers * attentionFlops(seq);
      case FULL -> layers * (layerMatrixFlops() + attentionFlops(seq));
    };
  }

  @Override
  public String toString() {
    return name + " (" + layers + " layers, hidden " + hidden + ", " + heads + " heads"
        + (kvHeads != heads ? ", " + kvHeads + " kv heads" : "") + ", ffn " + ffn + (gated ? " gated" : "")
        + ", vocab " + vocab + ", sequence " + seq + ")";
  }
}
