package dev.weft.parallel.pp;

import dev.weft.WeftInputException;
import java.util.Arrays;

/**
 * How L transformer layers are cut into p * v contiguous chunks (virtual stages), chunk s running layers
 * [firstLayer(s), firstLayer(s) + layers(s)) on PP rank s % p. The token and position embedding belong to
 * chunk 0, the final LayerNorm, the LM head and the loss to chunk p*v - 1. Pure, immutable.
 *
 * <p>Three ways to cut: {@link #balanced} (equal counts), {@link #explicit} (given sizes) and {@link #byCost}
 * (per-layer costs plus the embedding's and the head's, minimising the most expensive chunk). Every chunk gets
 * at least one layer, so L >= p * v is required.
 */
public final class StagePlan {
  private final int p;
  private final int v;
  private final int[] sizes;
  private final int[] first;

  private StagePlan(int p, int v, int[] sizes) {
    this.p = p;
    this.v = v;
    this.sizes = sizes.clone();
    this.first = new int[sizes.length];
    for (int i = 1; i < sizes.length; i++) first[i] = first[i - 1] + sizes[i - 1];
  }

  /**
   * Equal layer counts; when L is not a multiple of p*v, the extra layers go to the middle chunks first (they
   * carry neither the embedding nor the head), then to the last chunk, then to the first.
   */
  public static StagePlan balanced(int layers, int p, int v) {
    checkDegrees(layers, p, v);
    int n = p * v;
    int[] sizes = new int[n];
    Arrays.fill(sizes, layers / n);
    int extra = layers % n;
    for (int i = 1; i < n - 1 && extra > 0; i++, extra--) sizes[i]++;
    if (extra > 0) { sizes[n - 1]++; extra--; }
    if (extra > 0) sizes[0]++;
    return new StagePlan(p, v, sizes);
  }

  /** The given chunk sizes, one per virtual stage, each >= 1. */
  public static StagePlan explicit(int[] sizes, int p, int v) {
    int total = Arrays.stream(sizes).sum();
    checkDegrees(total, p, v);
    if (sizes.length != p * v) {
      throw new WeftInputException("The stage plan lists " + sizes.length + " chunk sizes " + Arrays.toString(sizes)
          + " but pp=" + p + " x virtual stages=" + v + " needs " + (p * v) + ".");
    }
    for (int s : sizes) {
      if (s < 1) throw new WeftInputException("Every pipeline chunk needs at least one layer, got " + Arrays.toString(sizes) + ".");
    }
    return new StagePlan(p, v, sizes);
  }

  /** Contiguous chunks minimising the most expensive one, counting the embedding in chunk 0 and the head in the last. */
  public static StagePlan byCost(double[] layerCost, double embeddingCost, double headCost, int p, int v) {
    int layers = layerCost.length;
    checkDegrees(layers, p, v);
    int n = p * v;
    double[] prefix = new double[layers + 1];
    for (int i = 0; i < layers; i++) {
      if (!(layerCost[i] >= 0)) throw new WeftInputException("Layer costs must be non-negative numbers, got " + layerCost[i] + " for layer " + i + ".");
      prefix[i + 1] = prefix[i] + layerCost[i];
    }
    // best[k][j]: the smallest possible maximum chunk cost when chunks 0..k-1 hold layers 0..j-1
    double[][] best = new double[n + 1][layers + 1];
    int[][] cut = new int[n + 1][layers + 1];
    for (double[] row : best) Arrays.fill(row, Double.POSITIVE_INFINITY);
    best[0][0] = 0;
    for (int k = 1; k <= n; k++) {
      for (int j = k; j <= layers - (n - k); j++) {
        for (int i = k - 1; i < j; i++) {
          double chunk = prefix[j] - prefix[i] + (k == 1 ? embeddingCost : 0) + (k == n ? headCost : 0);
          double worst = Math.max(best[k - 1][i], chunk);
          if (worst < best[k][j] - 1e-12) {
            best[k][j] = worst;
            cut[k][j] = i;
          }
        }
      }
    }
    int[] sizes = new int[n];
    for (int k = n, j = layers; k >= 1; k--) {
      int i = cut[k][j];
      sizes[k - 1] = j - i;
      j = i;
    }
    return new StagePlan(p, v, sizes);
  }

  private static void checkDegrees(int layers, int p, int v) {
    if (p < 1 || v < 1) throw new WeftInputException("Pipeline degree and virtual stages must be >= 1, got pp=" + p + " v=" + v + ".");
    if (layers < (long) p * v) {
      throw new WeftInputException("The model has " + layers + " transformer layers, fewer than pp=" + p + " stages x "
          + v + " virtual stages = " + ((long) p * v) + " chunks; every chunk needs at least one layer. Lower --pp or the"
          + " virtual stages, or use a deeper model.");
    }
  }

  public int p() { return p; }
  public int v() { return v; }
  public int chunks() { return sizes.length; }
  public int layers() { return first[first.length - 1] + sizes[sizes.length - 1]; }

  /** Layers in virtual stage s. */
  public int layers(int s) { return sizes[s]; }

  /** The first layer of virtual stage s. */
  public int firstLayer(int s) { return first[s]; }

  /** The PP rank holding virtual stage s. */
  public int rankOf(int s) { return s % p; }

  /** The virtual stages on PP rank r, in chunk order: r, r + p, ..., r + (v-1) p. */
  public int[] stagesOf(int r) {
    int[] out = new int[v];
    for (int c = 0; c < v; c++) out[c] = c * p + r;
    return out;
  }

  /** True for chunk 0, which also runs the embedding. */
  public boolean hasEmbedding(int s) { return s == 0; }

  /** True for the last chunk, which also runs the final LayerNorm, the head and the loss. */
  public boolean hasHead(int s) { return s == sizes.length - 1; }

  /** Chunk sizes, in stage order. */
  public int[] sizes() { return sizes.clone(); }

  @Override
  public String toString() {
    return "StagePlan pp=" + p + " v=" + v + " layers per chunk " + Arrays.toString(sizes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StagePlan s && s.p == p && s.v == v && Arrays.equals(s.sizes, sizes);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * p + v) + Arrays.hashCode(sizes);
  }
}
