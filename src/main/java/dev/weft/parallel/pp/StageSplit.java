package dev.weft.parallel.pp;

import dev.weft.WeftInputException;
import java.util.Arrays;
import java.util.Locale;

/**
 * How a model's layers are cut into pipeline chunks ({@code --stage-split}): {@link #COUNT} equal layer
 * counts; {@link #PARAMS} balanced by parameters (the embeddings weigh on the first chunk, the final norm
 * and an untied head on the last); {@link #FLOPS} balanced by compute (each block's matrix products and
 * attention, the logits on the last chunk); or {@link #explicit} layer counts like 3,2,2,1.
 */
public record StageSplit(Kind kind, int[] sizes) {
  public enum Kind { COUNT, PARAMS, FLOPS, EXPLICIT }

  public static final StageSplit COUNT = new StageSplit(Kind.COUNT, new int[0]);
  public static final StageSplit PARAMS = new StageSplit(Kind.PARAMS, new int[0]);
  public static final StageSplit FLOPS = new StageSplit(Kind.FLOPS, new int[0]);

  public static StageSplit explicit(int... sizes) {
    return new StageSplit(Kind.EXPLICIT, sizes.clone());
  }

  /** count, params, flops, or comma-separated layer counts. */
  public static StageSplit parse(String s) {
    String n = s.trim().toLowerCase(Locale.ROOT);
    switch (n) {
      case "count" -> { return COUNT; }
      case "params" -> { return PARAMS; }
      case "flops" -> { return FLOPS; }
      default -> {
        String[] parts = n.split(",");
        int[] sizes = new int[parts.length];
        try {
          for (int i = 0; i < parts.length; i++) sizes[i] = Integer.parseInt(parts[i].trim());
        } catch (NumberFormatException e) {
          throw new WeftInputException("--stage-split takes count, params, flops or layer counts like 3,2,2,1; got '"
              + s + "'.");
        }
        return explicit(sizes);
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StageSplit x && x.kind == kind && Arrays.equals(x.sizes, sizes);
  }

  @Override
  public int hashCode() {
    return kind.hashCode() * 31 + Arrays.hashCode(sizes);
  }

  @Override
  public String toString() {
    if (kind != Kind.EXPLICIT) return kind.name().toLowerCase(Locale.ROOT);
    StringBuilder sb = new StringBuilder();
    for (int x : sizes) sb.append(sb.length() == 0 ? "" : ",").append(x);
    return sb.toString();
  }
}
