package dev.weft.kernels;

/**
 * The heads of one attention call: {@code q} query heads and {@code kv} key/value heads (grouped-query
 * attention when kv < q: query head h reads K/V head h / (q / kv)), each {@code dim} wide. A fused projection
 * row is laid out q | k | v: q heads q dim, then kv dim of keys and kv dim of values.
 */
public record Heads(int q, int kv, int dim) {
  public Heads {
    if (q < 1 || kv < 1 || dim < 1 || q % kv != 0) {
      throw new IllegalArgumentException("heads q=" + q + " kv=" + kv + " dim=" + dim + ": kv must divide q");
    }
  }

  /** Multi-head attention: as many K/V heads as query heads, C / NH wide. */
  public static Heads mha(int C, int NH) {
    if (NH < 1 || C % NH != 0) throw new IllegalArgumentException("C=" + C + " is not a multiple of NH=" + NH);
    return new Heads(NH, NH, C / NH);
  }

  /** Query heads per K/V head. */
  public int group() { return q / kv; }

  /** Width of the queries (and of the attention output): q dim. */
  public int qWidth() { return q * dim; }

  /** Width of the keys (and of the values): kv dim. */
  public int kvWidth() { return kv * dim; }

  /** Width of a fused q|k|v row: (q + 2 kv) dim. */
  public int qkvWidth() { return (q + 2 * kv) * dim; }

  /** These heads split n ways (tensor or context parallelism): q / n and kv / n heads. */
  public Heads split(int n) {
    return new Heads(q / n, kv / n, dim);
  }
}
