package dev.weft.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every GPT-2 parameter lives in one flat float buffer: names and shapes exactly as in the
 * Hugging Face GPT-2 checkpoint, ordered by layer (wte, wpe, h.0.*, ..., h.{L-1}.*, ln_f.*), so that a
 * layer's parameters are contiguous (what ZeRO-3 gathers) and a gradient bucket is a range of the buffer.
 *
 * <p>Shapes: wte [V,C], wpe [T,C]; per layer ln_1.weight|bias [C], attn.c_attn.weight [C,3C] (input-major),
 * attn.c_attn.bias [3C], attn.c_proj.weight [C,C], .bias [C], ln_2.weight|bias [C], mlp.c_fc.weight [C,4C],
 * .bias [4C], mlp.c_proj.weight [4C,C], .bias [C]; ln_f.weight|bias [C].
 */
public final class ParameterLayout {
  /** One named parameter: its shape, where it starts in the flat buffer, and whether AdamW decays it. */
  public record Param(String name, int[] shape, int offset, int size) {
    /** Matrices (and embeddings) get weight decay; biases and LayerNorm gains do not (GPT-2 practice). */
    public boolean decays() {
      return shape.length >= 2;
    }
  }

  private final GPT2Config config;
  private final Map<String, Param> byName = new LinkedHashMap<>();
  private final int[] layerStart;
  private final int[] layerEnd;
  private final int total;

  public ParameterLayout(GPT2Config config) {
    this.config = config;
    int c = config.dModel();
    int[] off = {0};
    add("wte.weight", off, config.vocab(), c);
    add("wpe.weight", off, config.context(), c);
    layerStart = new int[config.layers()];
    layerEnd = new int[config.layers()];
    for (int l = 0; l < config.layers(); l++) {
      layerStart[l] = off[0];
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
    add("ln_f.weight", off, c);
    add("ln_f.bias", off, c);
    total = off[0];
  }

  private void add(String name, int[] off, int... shape) {
    long size = 1;
    for (int d : shape) size *= d;
    if (off[0] + size > Integer.MAX_VALUE - 8) {
      throw new dev.weft.WeftInputException("the model has more than 2^31 parameters on one device ("
          + config + "); spread it over more devices (--tp, --pp) or choose a smaller model.");
    }
    byName.put(name, new Param(name, shape, off[0], (int) size));
    off[0] += (int) size;
  }

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
  public int offset(int layer, String suffix) { return get("h." + layer + "." + suffix).offset(); }

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
    return layerEnd[config.layers() - 1];
  }

  /** One past the last flat offset of region {@code r}. */
  public int regionEnd(int r) {
    if (r == 0) return layerStart[0];
    if (r <= config.layers()) return layerEnd[r - 1];
    return total;
  }

  public int regionSize(int r) { return regionEnd(r) - regionStart(r); }

  /** [start, end) of layer {@code l}'s parameters in the flat buffer. */
  public int layerStart(int l) { return layerStart[l]; }
  public int layerEnd(int l) { return layerEnd[l]; }
}
