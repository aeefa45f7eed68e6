package dev.weft.model;

import dev.weft.WeftInputException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every parameter of one device lives in one flat float buffer, derived from a {@link ModelSpec}:
 * the spec's parameters in its order (embeddings, block 0, ..., block L-1, final norm and untied head), so
 * that a region's parameters are contiguous (what ZeRO-3 gathers; what a gradient bucket reduces). Under
 * tensor parallelism of degree t, rank i holds what each parameter's {@link TpSplit} gives it
 * ({@link TpSlice}): whole heads of q, k and v, F/t of the MLP, Vp/t rows of the padded vocabulary, and
 * the replicated parameters whole. Names and full shapes are the spec's (the family's checkpoint names).
 *
 * <p>A pipeline rank holds only its blocks, the embeddings when it runs the first stage (and, for a tied
 * head, on the last stage too: the logits use the token embedding), and the final region when it runs the
 * head. Absent regions have size 0; region numbers stay global: 0 the embeddings, 1 + l block l, L + 1 the
 * final region.
 */
public final class ParameterLayout {
  /**
   * One parameter on this device: its local shape, where it starts in the flat buffer, its full (checkpoint)
   * shape, how the local tensor is cut from the full one, and its declaration.
   */
  public record Param(String name, int[] shape, int offset, int size, int[] fullShape, TpSlice slice,
                      ParamSpec spec) {
    /** Whether AdamW decays it (the family's choice: matrices and embeddings, not norms and biases). */
    public boolean decays() {
      return spec.decay();
    }

    /** Every tensor-parallel rank holds the same values (its gradient must be counted once in norms). */
    public boolean replicated() {
      return slice.replicated();
    }
  }

  private final ModelSpec spec;
  private final int tp;
  private final int tpRank;
  private final int paddedVocab;
  private final Map<String, Param> byName = new LinkedHashMap<>();
  /** Block parameters by suffix, then by layer: what the hot loops look up, with no string built. */
  private final Map<String, Param[]> bySuffix = new HashMap<>();
  private final boolean[] layersPresent;
  private final boolean firstStage;
  private final boolean embeddingPresent;
  private final boolean headPresent;
  private final int embeddingEnd;
  private final int finalStart;
  private final int[] layerStart;
  private final int[] layerEnd;
  private final int total;

  /** The whole model on one device. */
  public ParameterLayout(ModelSpec spec) {
    this(spec, 1, 0);
  }

  /** Rank {@code tpRank}'s share of the model under tensor parallelism of degree {@code tp}. */
  public ParameterLayout(ModelSpec spec, int tp, int tpRank) {
    this(spec, tp, tpRank, allLayers(spec), true, true);
  }

  private static boolean[] allLayers(ModelSpec s) {
    boolean[] all = new boolean[s.layers()];
    Arrays.fill(all, true);
    return all;
  }

  /**
   * A pipeline rank's share: the blocks marked in {@code layers}, the embeddings when it runs the first stage
   * ({@code firstStage}) or a tied head, the final region when it runs the head ({@code lastStage}).
   */
  public ParameterLayout(ModelSpec spec, int tp, int tpRank, boolean[] layers, boolean firstStage, boolean lastStage) {
    spec.checkTensorParallel(tp);
    this.spec = spec;
    this.tp = tp;
    this.tpRank = tpRank;
    this.layersPresent = layers.clone();
    this.firstStage = firstStage;
    this.embeddingPresent = firstStage || (lastStage && spec.tied());
    this.headPresent = lastStage;
    this.paddedVocab = (spec.vocab() + tp - 1) / tp * tp;
    int L = spec.layers();
    long off = 0;
    int embEnd = 0, finStart = -1;
    int[] starts = new int[L], ends = new int[L];
    int currentLayer = -1;
    for (ParamSpec p : spec.params()) {
      boolean present = switch (p.region()) {
        case EMBEDDING -> embeddingPresent;
        case BLOCK -> layersPresent[p.layer()];
        case FINAL -> headPresent;
      };
      if (p.region() == ParamSpec.Region.BLOCK && p.layer() != currentLayer) {
        for (int l = currentLayer + 1; l <= p.layer(); l++) starts[l] = (int) off;
        currentLayer = p.layer();
      }
      if (p.region() == ParamSpec.Region.FINAL && finStart < 0) {
        for (int l = currentLayer + 1; l < L; l++) starts[l] = (int) off;
        finStart = (int) off;
      }
      if (!present) continue;
      TpSlice slice = p.split().apply(p.name(), p.shape(), tp, tpRank);
      int[] local = slice.localShape(p.shape());
      long size = 1;
      for (int d : local) size *= d;
      if (off + size > Integer.MAX_VALUE - 8) {
        throw new WeftInputException("the model has more than 2^31 parameters on one device (" + spec
            + "); spread it over more devices (--tp, --pp) or choose a smaller model.");
      }
      Param q = new Param(p.name(), local, (int) off, (int) size, p.shape().clone(), slice, p);
      byName.put(p.name(), q);
      if (p.region() == ParamSpec.Region.EMBEDDING) embEnd = (int) (off + size);
      if (p.region() == ParamSpec.Region.BLOCK) {
        String suffix = p.name().substring(spec.layerPrefix(p.layer()).length());
        bySuffix.computeIfAbsent(suffix, k -> new Param[L])[p.layer()] = q;
        ends[p.layer()] = (int) (off + size);
      }
      off += size;
    }
    for (int l = 0; l < L; l++) if (!layersPresent[l]) ends[l] = starts[l];
    if (finStart < 0) finStart = (int) off;
    this.embeddingEnd = embEnd;
    this.layerStart = starts;
    this.layerEnd = ends;
    this.finalStart = finStart;
    this.total = (int) off;
  }

  /** The same share of the model for another tensor-parallel rank. */
  public ParameterLayout withTpRank(int rank) {
    return new ParameterLayout(spec, tp, rank, layersPresent, firstStage, headPresent);
  }

  /** Whether block {@code l} lives on this device. */
  public boolean hasLayer(int l) { return layersPresent[l]; }

  /** Whether the embeddings live here (first stage, and a tied head's copy on the last). */
  public boolean hasEmbedding() { return embeddingPresent; }

  /** Whether the final norm and the logits/loss run here. */
  public boolean hasHead() { return headPresent; }

  public ModelSpec spec() { return spec; }
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

  /** The first vocabulary id of this rank's rows of the token embedding and the head. */
  public int vocabStart() { return tpRank * (paddedVocab / tp); }

  /** Vocabulary rows this rank holds (padding included). */
  public int localVocab() { return paddedVocab / tp; }

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
    return p != null ? p : get(spec.layerPrefix(layer) + suffix); // get() names what is missing
  }

  /** Regions: 0 = embeddings, 1 + l = block l, L + 1 = final norm (and an untied head). */
  public int regionCount() { return spec.layers() + 2; }

  /** Region of block {@code l}. */
  public static int blockRegion(int l) { return l + 1; }

  /** Region of the final norm and head. */
  public int finalRegion() { return spec.layers() + 1; }

  /** The region holding the output head's weight: the embeddings' when tied, else the final region. */
  public int headRegion() { return spec.tied() ? 0 : finalRegion(); }

  /** First flat offset of region {@code r}. */
  public int regionStart(int r) {
    if (r == 0) return 0;
    if (r <= spec.layers()) return layerStart[r - 1];
    return finalStart;
  }

  /** One past the last flat offset of region {@code r} (a region absent from this device is empty). */
  public int regionEnd(int r) {
    if (r == 0) return embeddingEnd;
    if (r <= spec.layers()) return layerEnd[r - 1];
    return total;
  }

  public int regionSize(int r) { return regionEnd(r) - regionStart(r); }

  /** [start, end) of layer {@code l}'s parameters in the flat buffer. */
  public int layerStart(int l) { return layerStart[l]; }
  public int layerEnd(int l) { return layerEnd[l]; }
}
