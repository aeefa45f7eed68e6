package dev.weft.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every GPT-2 parameter of one device lives in one flat float buffer: names and full shapes exactly
 * as in the Hugging Face GPT-2 checkpoint, ordered by layer (wte, wpe, h.0.*, ..., h.{L-1}.*, ln_f.*), so
 * that a layer's parameters are contiguous (what ZeRO-3 gathers) and a gradient bucket is a range of the
 * buffer. Under tensor parallelism of degree t, rank i holds what the tensor-parallel plan
 * ({@link dev.weft.parallel.tp.TensorParallelPlan#gpt2()}, data) gives it ({@link TpSlice}): wte rows
 * [i Vp/t, (i+1) Vp/t) of the vocabulary padded to Vp = t ceil(V / t); c_attn the columns of heads
 * [i NH/t, (i+1) NH/t) of q, k and v ([C, 3C/t]) and its bias likewise; attn.c_proj rows [i C/t, (i+1) C/t)
 * ([C/t, C]); mlp.c_fc columns [i 4C/t, ...) ([C, 4C/t]) and bias; mlp.c_proj rows ([4C/t, C]); everything
 * else (wpe, LayerNorms, the row-parallel biases) replicated.
 *
 * <p>Shapes: wte [V,C], wpe [T,C]; per layer ln_1.weight|bias [C], attn.c_attn.weight [C,3C] (input-major),
 * attn.c_attn.bias [3C], attn.c_proj.weight [C,C], .bias [C], ln_2.weight|bias [C], mlp.c_fc.weight [C,4C],
 * .bias [4C], mlp.c_proj.weight [4C,C], .bias [C]; ln_f.weight|bias [C].
 */
public final class ParameterLayout {
  /**
   * One named parameter: its local shape, where it starts in the flat buffer, its full (checkpoint) shape and
   * how the local tensor is cut from the full one.
   */
  public record Param(String name, int[] shape, int offset, int size, int[] fullShape, TpSlice slice) {
    /** Matrices (and embeddings) get weight decay; biases and LayerNorm gains do not (GPT-2 practice). */
    public boolean decays() {
      return shape.length >= 2;
    }

    /** Every tensor-parallel rank holds the same values (its gradient must be counted once in norms). */
    public boolean replicated() {
      return slice.replicated();
    }
  }

  private final GPT2Config config;
  private final int tp;
  private final int tpRank;
  private final int paddedVocab;
  private final Map<String, Param> byName = new LinkedHashMap<>();
  /** Block parameters by suffix ("ln_1.weight"), then by layer: what the hot loops look up, with no string built. */
  private final Map<String, Param[]> bySuffix = new java.util.HashMap<>();
  private final boolean[] layersPresent;
  private final dev.weft.parallel.tp.TensorParallelPlan plan;
  private final boolean embeddingPresent;
  private final boolean headPresent;
  private final int embeddingEnd;
  private final int finalStart;
  private final int[] layerStart;
  private final int[] layerEnd;
  private final int total;

  /** The whole model on one device (no tensor parallelism). */
  public ParameterLayout(GPT2Config config) {
    this(config, 1, 0);
  }

  /** Rank {@code tpRank}'s share of the model under tensor parallelism of degree {@code tp}. */
  public ParameterLayout(GPT2Config config, int tp, int tpRank) {
    this(config, tp, tpRank, allLayers(config), true, true);
  }

  private static boolean[] allLayers(GPT2Config c) {
    boolean[] all = new boolean[c.layers()];
    java.util.Arrays.fill(all, true);
    return all;
  }

  /**
   * A pipeline rank's share: only the blocks marked in {@code layers}, the embeddings (region 0: wte, wpe)
   * when it runs the first stage or the head (the head's logits use the tied wte), and the final LayerNorm
   * when it runs the head. Absent regions have size 0; region numbers stay global.
   */
  public ParameterLayout(GPT2Config config, int tp, int tpRank, boolean[] layers, boolean embedding, boolean head) {
    checkSplittable(config, tp);
    this.layersPresent = layers.clone();
    this.embeddingPresent = embedding || head;
    this.headPresent = head;
    this.config = config;
    this.tp = tp;
    this.tpRank = tpRank;
    int c = config.dModel();
    int v = config.vocab();
    this.paddedVocab = (v + tp - 1) / tp * tp;
    int[] off = {0};
    this.plan = dev.weft.parallel.tp.TensorParallelPlan.gpt2();
    if (embeddingPresent) {
      add("wte.weight", off, v, c);
      add("wpe.weight", off, config.context(), c);
    }
    embeddingEnd = off[0];
    layerStart = new int[config.layers()];
    layerEnd = new int[config.layers()];
    for (int l = 0; l < config.layers(); l++) {
      layerStart[l] = off[0];
      if (!layersPresent[l]) {
        layerEnd[l] = off[0];
        continue;
      }
      String p = "h." + l + ".";
      add(p + "ln_1.weight", off, c);
      add(p + "ln_1.bias", off, c);
      add(p + "attn.c_attn.weight", off, c, 3 * c);
      add(p + "attn.c_attn.bias", off, 3 * c);
      add(p + "attn.c_proj.weight", off, c, c);
      add(p + "attn.c_proj.bias", off, c);
      add(p + "ln_2.weight", off, c);
      add(p + "ln_2.bias", off, c);
      add(p + "mlp.c_fc.weight", off, c, 4 * c);
      add(p + "mlp.c_fc.bias", off, 4 * c);
      add(p + "mlp.c_proj.weight", off, 4 * c, c);
      add(p + "mlp.c_proj.bias", off, c);
      layerEnd[l] = off[0];
    }
    finalStart = off[0];
    if (headPresent) {
      add("ln_f.weight", off, c);
      add("ln_f.bias", off, c);
    }
    total = off[0];
    dev.weft.parallel.tp.TensorParallelPlan.verify(plan, this);
  }

  /** The tensor-parallel plan this layout applied (Megatron's GPT-2 plan). */
  public dev.weft.parallel.tp.TensorParallelPlan plan() { return plan; }

  /** The same share of the model for another tensor-parallel rank. */
  public ParameterLayout withTpRank(int rank) {
    return new ParameterLayout(config, tp, rank, layersPresent, embeddingPresent, headPresent);
  }

  /** Whether block {@code l} lives on this device. */
  public boolean hasLayer(int l) { return layersPresent[l]; }

  /** Whether the embeddings (wte, wpe) live here (first stage, and the head's tied copy on the last). */
  public boolean hasEmbedding() { return embeddingPresent; }

  /** Whether the final LayerNorm and the logits/loss run here. */
  public boolean hasHead() { return headPresent; }

  /**
   * Tensor parallelism of degree t splits whole heads (NH % t == 0), the MLP's 4C columns (4C % t == 0) and
   * the vocabulary (padded up to a multiple of t, the padding masked out of the softmax).
   */
  public static void checkSplittable(GPT2Config c, int tp) {
    if (tp < 1) throw new dev.weft.WeftInputException("--tp must be >= 1, got " + tp + ".");
    if (c.heads() % tp != 0) {
      throw new dev.weft.WeftInputException("--tp " + tp + " does not divide the " + c.heads() + " attention heads: "
          + "tensor parallelism gives every rank whole heads. Choose a --tp that divides " + c.heads() + ".");
    }
    if ((4 * c.dModel()) % tp != 0) {
      throw new dev.weft.WeftInputException("--tp " + tp + " does not divide the MLP width 4C = " + 4 * c.dModel()
          + "; choose a --tp that divides it.");
    }
  }

  /** Adds a parameter of the given full shape, cut for this rank by the tensor-parallel plan. */
  private void add(String name, int[] off, int... fullShape) {
    dev.weft.parallel.tp.TensorParallelPlan.Applied a = plan.apply(name, fullShape, tp, tpRank, paddedVocab);
    add(name, off, fullShape, a.slice(), a.localShape());
  }

  private void add(String name, int[] off, int[] fullShape, TpSlice slice, int... shape) {
    long size = 1;
    for (int d : shape) size *= d;
    if (off[0] + size > Integer.MAX_VALUE - 8) {
      throw new dev.weft.WeftInputException("the model has more than 2^31 parameters on one device ("
          + config + "); spread it over more devices (--tp, --pp) or choose a smaller model.");
    }
    Param p = new Param(name, shape, off[0], (int) size, fullShape, slice);
    byName.put(name, p);
    if (name.startsWith("h.")) {
      int dot = name.indexOf('.', 2);
      int layer = Integer.parseInt(name.substring(2, dot));
      bySuffix.computeIfAbsent(name.substring(dot + 1), k -> new Param[config.layers()])[layer] = p;
    }
    off[0] += (int) size;
  }

  public int tp() { return tp; }
  public int tpRank() { return tpRank; }

  /** This rank's flat local parameters cut from {@code full}, laid out by {@code fullLayout} (the tp = 1 layout). */
  public float[] extractFrom(ParameterLayout fullLayout, float[] full) {
    float[] local = new float[total];
    for (Param p : byName.values()) {
      Param f = fullLayout.get(p.name());
      p.slice().extract(full, f.offset(), f.shape(), local, p.offset(), p.shape());
    }
    return local;
  }

  /** Writes this rank's flat local parameters {@code local} into their places in {@code full}. */
  public void insertInto(float[] local, ParameterLayout fullLayout, float[] full) {
    for (Param p : byName.values()) {
      Param f = fullLayout.get(p.name());
      p.slice().insert(local, p.offset(), p.shape(), full, f.offset(), f.shape());
    }
  }

  /** The vocabulary padded to a multiple of tp. */
  public int paddedVocab() { return paddedVocab; }

  /** The first vocabulary id of this rank's wte rows. */
  public int vocabStart() { return tpRank * (paddedVocab / tp); }

  /** Vocabulary rows this rank holds (padding included). */
  public int localVocab() { return paddedVocab / tp; }

  public GPT2Config config() { return config; }
  public int total() { return total; }
  public List<Param> params() { return Collections.unmodifiableList(new ArrayList<>(byName.values())); }
  public boolean has(String name) { return byName.containsKey(name); }

  public Param get(String name) {
    Param p = byName.get(name);
    if (p == null) throw new IllegalArgumentException("no parameter named " + name);
    return p;
  }

  public int offset(String name) { return get(name).offset(); }

  /** Offset of parameter {@code suffix} of layer {@code layer}, e.g. {@code offset(3, "ln_1.weight")}. */
  public int offset(int layer, String suffix) {
    return param(layer, suffix).offset();
  }

  /** Parameter {@code suffix} of layer {@code layer}, looked up without building its name. */
  public Param param(int layer, String suffix) {
    Param[] byLayer = bySuffix.get(suffix);
    Param p = byLayer == null || layer < 0 || layer >= byLayer.length ? null : byLayer[layer];
    return p != null ? p : get("h." + layer + "." + suffix); // get() names what is missing
  }

  /** Regions: 0 = embeddings (wte, wpe), 1 + l = block l, L + 1 = final LayerNorm. */
  public int regionCount() { return config.layers() + 2; }

  /** Region of block {@code l}. */
  public static int blockRegion(int l) { return l + 1; }

  /** Region of the final LayerNorm. */
  public int finalRegion() { return config.layers() + 1; }

  /** First flat offset of region {@code r}. */
  public int regionStart(int r) {
    if (r == 0) return 0;
    if (r <= config.layers()) return layerStart[r - 1];
    return finalStart;
  }

  /** One past the last flat offset of region {@code r} (a region absent from this device is empty). */
  public int regionEnd(int r) {
    if (r == 0) return embeddingEnd;
    if (r <= config.layers()) return layerEnd[r - 1];
    return total;
  }

  public int regionSize(int r) { return regionEnd(r) - regionStart(r); }

  /** [start, end) of layer {@code l}'s parameters in the flat buffer. */
  public int layerStart(int l) { return layerStart[l]; }
  public int layerEnd(int l) { return layerEnd[l]; }
}
