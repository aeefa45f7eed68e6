package dev.weft.model;

import dev.weft.WeftInputException;
import dev.weft.kernels.WeightLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A decoder-only transformer as its family declares it, and the one description the parallel core reads:
 * dimensions, the block ({@link BlockSpec}: norm, attention with its head counts and position scheme, MLP with
 * its activation and gating), the embeddings and the head (tied to the token embedding or not), and every
 * parameter ({@link ParamSpec}: name, full shape, tensor-parallel split, initialisation, weight decay) in flat
 * order: region 0 the embeddings, region 1 + l block l, region L + 1 the final norm and an untied head.
 *
 * <pre>
 *   x0 = tok_emb[ids] (+ pos_emb[positions])                      [N, C]
 *   x_{l+1} = block_l(x_l)                                         [N, C]
 *   logits = finalNorm(x_L) head^T      head [V, C] (= tok_emb when tied)
 * </pre>
 *
 * <p>Built by a family ({@link #builder}), which checks that the parameters fit the block: every name the
 * block uses exists with the shape its role needs, column-parallel weights split their output dimension into
 * whole heads (q | k | v) or whole halves (gate | up), row-parallel weights their input dimension, norms and
 * row-parallel biases are replicated, embeddings and the head vocabulary-parallel. What is wrong with a
 * family's declaration is a programming error named here; what is wrong with a user's shape (heads not
 * dividing, tp not dividing) is bad input, named in {@link #checkTensorParallel}.
 */
public final class ModelSpec {
  private final ModelFamily family;
  private final Object config;
  private final int layers, dModel, context, vocab;
  private final BlockSpec block;
  private final String layerPrefix;
  private final String tokenEmbedding;
  private final String positionEmbedding;
  private final NormSpec finalNorm;
  private final String head;
  private final List<ParamSpec> params;
  private final Map<String, ParamSpec> byName = new HashMap<>();

  private ModelSpec(Builder b) {
    this.family = b.family;
    this.config = b.config;
    this.layers = b.layers;
    this.dModel = b.dModel;
    this.context = b.context;
    this.vocab = b.vocab;
    this.block = b.block;
    this.layerPrefix = b.layerPrefix;
    this.tokenEmbedding = b.tokenEmbedding;
    this.positionEmbedding = b.positionEmbedding;
    this.finalNorm = b.finalNorm;
    this.head = b.head == null ? b.tokenEmbedding : b.head;
    List<ParamSpec> all = new ArrayList<>(b.embedding);
    for (int l = 0; l < layers; l++) {
      for (ParamSpec t : b.blockTemplate) {
        all.add(new ParamSpec(layerPrefix(l) + t.name(), t.shape(), l, ParamSpec.Region.BLOCK, t.split(), t.init(),
            t.decay()));
      }
    }
    all.addAll(b.fin);
    this.params = Collections.unmodifiableList(all);
    for (ParamSpec p : all) {
      if (byName.put(p.name(), p) != null) throw new IllegalStateException("parameter " + p.name() + " declared twice");
    }
    verify(b.blockTemplate);
  }

  /** Starts a family's declaration of a model of L layers, width C, context T and vocabulary V. */
  public static Builder builder(ModelFamily family, Object config, int layers, int dModel, int context, int vocab) {
    return new Builder(family, config, layers, dModel, context, vocab);
  }

  public ModelFamily family() { return family; }

  /** The family's own configuration record (what its config.json says). */
  public Object config() { return config; }

  /** The family's configuration as {@code type}; an error if this model is of another family. */
  public <T> T config(Class<T> type) {
    if (!type.isInstance(config)) {
      throw new IllegalStateException("a " + family.displayName() + " model has no " + type.getSimpleName());
    }
    return type.cast(config);
  }

  public int layers() { return layers; }
  public int dModel() { return dModel; }
  public int context() { return context; }
  public int vocab() { return vocab; }
  public BlockSpec block() { return block; }
  public AttentionSpec attention() { return block.attention(); }
  public MlpSpec mlp() { return block.mlp(); }
  public int heads() { return block.attention().heads(); }
  public int kvHeads() { return block.attention().kvHeads(); }
  public int headDim() { return block.attention().headDim(); }
  /** The MLP's hidden width F. */
  public int ffn() { return block.mlp().hidden(); }

  /** The prefix of block l's parameter names ("h.3.", "model.layers.3."). */
  public String layerPrefix(int l) {
    return String.format(Locale.ROOT, layerPrefix, l);
  }

  public String tokenEmbedding() { return tokenEmbedding; }

  /** The learned position embedding's name, or null (rotary positions). */
  public String positionEmbedding() { return positionEmbedding; }

  public NormSpec finalNorm() { return finalNorm; }

  /** The output projection's name ([V, C]); the token embedding's when tied. */
  public String head() { return head; }

  /** Whether the logits use the token embedding (no head parameter of their own). */
  public boolean tied() { return head.equals(tokenEmbedding); }

  /** Every parameter in flat order (embeddings, blocks in order, final norm and head). */
  public List<ParamSpec> params() { return params; }

  public ParamSpec param(String name) {
    ParamSpec p = byName.get(name);
    if (p == null) throw new IllegalArgumentException("no parameter named " + name + " in " + this);
    return p;
  }

  public boolean has(String name) { return byName.containsKey(name); }

  /** Total number of parameters (a tied head counted once). */
  public long parameterCount() {
    long n = 0;
    for (ParamSpec p : params) n += p.numel();
    return n;
  }

  /**
   * Parameters that take part in matrix products per token (6 FLOPs each per trained token): every block
   * weight and bias and the head (V C), not the token-embedding lookup or the learned positions.
   */
  public long matmulParameters() {
    long n = parameterCount();
    if (positionEmbedding != null) n -= param(positionEmbedding).numel();
    if (!tied()) n -= param(tokenEmbedding).numel();
    return n;
  }

  /** Parameters of a region kind: the embeddings' (region 0) or the final region's (norm and untied head). */
  public long regionParameters(ParamSpec.Region region) {
    long n = 0;
    for (ParamSpec p : params) if (p.region() == region) n += p.numel();
    return n;
  }

  /** Weight-matrix parameters of one block (its 2-D parameters: what its matrix products multiply). */
  public long blockWeightParameters() {
    long n = 0;
    for (ParamSpec p : params) if (p.layer() == 0 && p.shape().length == 2) n += p.numel();
    return n;
  }

  /** Parameters of one block. */
  public long blockParameters() {
    long n = 0;
    for (ParamSpec p : params) if (p.layer() == 0) n += p.numel();
    return n;
  }

  /**
   * Checks that tensor parallelism of degree t can split this model, each failure bad input naming the
   * constraint and the fix: whole query heads and whole K/V heads per rank, the MLP width, then every
   * parameter's own split.
   */
  public void checkTensorParallel(int tp) {
    if (tp < 1) throw new WeftInputException("--tp must be >= 1, got " + tp + ".");
    int h = heads(), kv = kvHeads();
    if (h % tp != 0) {
      throw new WeftInputException("--tp " + tp + " does not divide the " + h + " attention heads: tensor parallelism"
          + " gives every rank whole heads. Choose a --tp that divides " + h + ".");
    }
    if (kv % tp != 0) {
      throw new WeftInputException("--tp " + tp + " does not divide the " + kv + " key/value heads: every rank must"
          + " hold whole K/V heads for its query heads. With more ranks than K/V heads the K/V projections would have"
          + " to be replicated and their gradients summed over the ranks sharing them, which Weft does not do (as"
          + " Megatron-LM, it needs kv heads % tp == 0). Choose a --tp that divides " + kv + ".");
    }
    if (ffn() % tp != 0) {
      throw new WeftInputException("--tp " + tp + " does not divide the MLP width " + ffn()
          + "; choose a --tp that divides it.");
    }
    for (ParamSpec p : params) p.split().apply(p.name(), p.shape(), tp, 0);
  }

  /** The same model with another context length (sequences this long). */
  public ModelSpec withContext(int newContext) {
    return family.withContext(this, newContext);
  }

  @Override
  public String toString() {
    return family.describe(this) + " (" + String.format(Locale.ROOT, "%.2fM", parameterCount() / 1e6) + " parameters)";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModelSpec s && s.family.name().equals(family.name()) && s.config.equals(config);
  }

  @Override
  public int hashCode() {
    return config.hashCode();
  }

  // ---- the family's declaration, checked ----------------------------------------------------------------

  private void verify(List<ParamSpec> template) {
    int C = dModel;
    AttentionSpec a = block.attention();
    MlpSpec m = block.mlp();
    expect(param(tokenEmbedding), new int[] {vocab, C}, TpSplit.VOCAB, "token embedding");
    if (positionEmbedding != null) {
      if (a.rotary()) throw new IllegalStateException("a model has learned or rotary positions, not both");
      expect(param(positionEmbedding), new int[] {context, C}, TpSplit.REPLICATED, "position embedding");
    } else if (!a.rotary()) {
      throw new IllegalStateException("a model without a position embedding needs rotary positions");
    }
    if (!tied()) expect(param(head), new int[] {vocab, C}, TpSplit.VOCAB, "output head");
    checkNorm(finalNorm, "");
    Map<String, ParamSpec> t = new LinkedHashMap<>();
    for (ParamSpec p : template) t.put(p.name(), p);
    checkNormTemplate(block.norm1(), t);
    checkNormTemplate(block.norm2(), t);
    int hd = a.headDim();
    checkLinear(a.qkv(), t, true, C, new int[] {a.heads() * hd, a.kvHeads() * hd, a.kvHeads() * hd}, "attention q|k|v");
    checkLinear(a.out(), t, false, a.heads() * hd, new int[] {C}, "attention output");
    int f = m.hidden();
    checkLinear(m.in(), t, true, C, m.gated() ? new int[] {f, f} : new int[] {f}, "MLP input");
    checkLinear(m.out(), t, false, f, new int[] {C}, "MLP output");
    List<String> used = new ArrayList<>();
    for (NormSpec n : new NormSpec[] {block.norm1(), block.norm2()}) {
      used.add(n.weight());
      if (n.bias() != null) used.add(n.bias());
    }
    for (LinearSpec l : new LinearSpec[] {a.qkv(), a.out(), m.in(), m.out()}) {
      used.addAll(l.weights());
      used.addAll(l.biases());
    }
    for (String name : t.keySet()) {
      if (!used.contains(name)) throw new IllegalStateException("block parameter " + name + " is used by no layer");
    }
  }

  private void checkNorm(NormSpec n, String prefix) {
    expect(param(prefix + n.weight()), new int[] {dModel}, TpSplit.REPLICATED, "norm weight");
    if (n.bias() != null) expect(param(prefix + n.bias()), new int[] {dModel}, TpSplit.REPLICATED, "norm bias");
  }

  private void checkNormTemplate(NormSpec n, Map<String, ParamSpec> t) {
    expect(need(t, n.weight()), new int[] {dModel}, TpSplit.REPLICATED, "norm weight");
    if (n.bias() != null) expect(need(t, n.bias()), new int[] {dModel}, TpSplit.REPLICATED, "norm bias");
  }

  /**
   * A column-parallel linear splits its output features by {@code outBlocks} (concatenated over its weights);
   * a row-parallel one its input features; biases follow the output (column) or are replicated (row).
   */
  private void checkLinear(LinearSpec l, Map<String, ParamSpec> t, boolean column, int in, int[] outBlocks,
                           String role) {
    int out = Arrays.stream(outBlocks).sum();
    if (l.in() != in || l.out() != out) {
      throw new IllegalStateException(role + " is declared " + l.in() + " -> " + l.out() + " but the block needs "
          + in + " -> " + out);
    }
    List<Integer> blocks = new ArrayList<>();
    List<String> names = new ArrayList<>(t.keySet());
    int prev = -1;
    for (String w : l.weights()) {
      ParamSpec p = need(t, w);
      int idx = names.indexOf(w);
      if (prev >= 0 && idx != prev + 1) {
        throw new IllegalStateException(role + ": the weights " + l.weights() + " must be declared back to back, so that"
            + " a rank's slices of them form one matrix");
      }
      prev = idx;
      int outDim = l.layout() == WeightLayout.IN_OUT ? 1 : 0;
      int inDim = 1 - outDim;
      if (p.shape().length != 2 || p.shape()[inDim] != in) {
        throw new IllegalStateException(role + " weight " + w + " has shape " + Arrays.toString(p.shape())
            + "; its input dimension " + inDim + " must be " + in);
      }
      if (column) {
        if (!(p.split() instanceof TpSplit.Blocks b) || b.dim() != outDim) {
          throw new IllegalStateException(role + " weight " + w + " is column-parallel: it must split its output "
              + "dimension " + outDim + ", not " + p.split());
        }
        for (int x : b.blocks()) blocks.add(x);
      } else {
        if (!(p.split() instanceof TpSplit.Blocks b) || b.dim() != inDim || b.blocks().length != 1) {
          throw new IllegalStateException(role + " weight " + w + " is row-parallel: it must split its input "
              + "dimension " + inDim + " in one block, not " + p.split());
        }
        blocks.add(p.shape()[outDim]);
      }
    }
    int[] got = blocks.stream().mapToInt(Integer::intValue).toArray();
    if (!Arrays.equals(got, outBlocks)) {
      throw new IllegalStateException(role + " splits its output as " + Arrays.toString(got) + " but the block needs "
          + Arrays.toString(outBlocks) + " (whole heads of q, k and v; whole halves of gate and up)");
    }
    for (int i = 0; i < l.biases().size(); i++) {
      ParamSpec b = need(t, l.biases().get(i));
      int[] shape = {column ? need(t, l.weights().get(i)).shape()[l.layout() == WeightLayout.IN_OUT ? 1 : 0] : out};
      TpSplit split = column ? TpSplit.dim(0, ((TpSplit.Blocks) need(t, l.weights().get(i)).split()).blocks())
          : TpSplit.REPLICATED;
      expect(b, shape, split, role + " bias");
    }
  }

  private static ParamSpec need(Map<String, ParamSpec> t, String name) {
    ParamSpec p = t.get(name);
    if (p == null) throw new IllegalStateException("the block uses " + name + ", which is not declared");
    return p;
  }

  private static void expect(ParamSpec p, int[] shape, TpSplit split, String role) {
    if (!Arrays.equals(p.shape(), shape)) {
      throw new IllegalStateException(role + " " + p.name() + " has shape " + Arrays.toString(p.shape()) + ", needs "
          + Arrays.toString(shape));
    }
    if (!p.split().equals(split)) {
      throw new IllegalStateException(role + " " + p.name() + " is split " + p.split() + ", needs " + split);
    }
  }

  /** A family's declaration of a model, parameter by parameter, in flat order. */
  public static final class Builder {
    private final ModelFamily family;
    private final Object config;
    private final int layers, dModel, context, vocab;
    private BlockSpec block;
    private String layerPrefix;
    private String tokenEmbedding;
    private String positionEmbedding;
    private NormSpec finalNorm;
    private String head;
    private final List<ParamSpec> embedding = new ArrayList<>();
    private final List<ParamSpec> blockTemplate = new ArrayList<>();
    private final List<ParamSpec> fin = new ArrayList<>();

    private Builder(ModelFamily family, Object config, int layers, int dModel, int context, int vocab) {
      this.family = family;
      this.config = config;
      this.layers = layers;
      this.dModel = dModel;
      this.context = context;
      this.vocab = vocab;
    }

    /** The block every layer runs, and the format of a layer's name prefix ("h.%d."). */
    public Builder block(BlockSpec block, String layerPrefixFormat) {
      this.block = block;
      this.layerPrefix = layerPrefixFormat;
      return this;
    }

    /** The token embedding [V, C] (vocabulary-parallel), initialised N(0, std). */
    public Builder tokenEmbedding(String name, Init init) {
      tokenEmbedding = name;
      embedding.add(new ParamSpec(name, new int[] {vocab, dModel}, -1, ParamSpec.Region.EMBEDDING, TpSplit.VOCAB, init,
          true));
      return this;
    }

    /** A learned position embedding [T, C] (replicated). */
    public Builder positionEmbedding(String name, Init init) {
      positionEmbedding = name;
      embedding.add(new ParamSpec(name, new int[] {context, dModel}, -1, ParamSpec.Region.EMBEDDING,
          TpSplit.REPLICATED, init, true));
      return this;
    }

    /** A parameter of every block, named by its suffix after the layer prefix; declare in flat order. */
    public Builder blockParam(String suffix, int[] shape, TpSplit split, Init init, boolean decay) {
      blockTemplate.add(new ParamSpec(suffix, shape.clone(), 0, ParamSpec.Region.BLOCK, split, init, decay));
      return this;
    }

    /** The final norm (its parameters are declared here: gains 1, biases 0, no decay, replicated). */
    public Builder finalNorm(NormSpec norm) {
      finalNorm = norm;
      fin.add(new ParamSpec(norm.weight(), new int[] {dModel}, -1, ParamSpec.Region.FINAL, TpSplit.REPLICATED,
          Init.ONES, false));
      if (norm.bias() != null) {
        fin.add(new ParamSpec(norm.bias(), new int[] {dModel}, -1, ParamSpec.Region.FINAL, TpSplit.REPLICATED,
            Init.ZEROS, false));
      }
      return this;
    }

    /** An untied output head [V, C] (vocabulary-parallel) after the final norm; without it the head is tied. */
    public Builder untiedHead(String name, Init init) {
      head = name;
      fin.add(new ParamSpec(name, new int[] {vocab, dModel}, -1, ParamSpec.Region.FINAL, TpSplit.VOCAB, init, true));
      return this;
    }

    public ModelSpec build() {
      if (block == null || tokenEmbedding == null || finalNorm == null) {
        throw new IllegalStateException("a model needs a block, a token embedding and a final norm");
      }
      return new ModelSpec(this);
    }
  }
}
