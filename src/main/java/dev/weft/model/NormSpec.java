package dev.weft.model;

/**
 * A normalisation over the model width C, its parameter names (block norms: suffixes after the layer
 * prefix; the final norm: full names) and epsilon.
 * <ul>
 *   <li>{@link Kind#LAYER_NORM}: {@code y = (x - mean) / sqrt(var + eps) * weight + bias} (GPT-2);
 *   <li>{@link Kind#RMS_NORM}: {@code y = x / sqrt(mean(x^2) + eps) * weight}, no bias (Llama).
 * </ul>
 * Statistics are always computed in fp32.
 */
public record NormSpec(Kind kind, float eps, String weight, String bias) {
  public enum Kind { LAYER_NORM, RMS_NORM }

  public NormSpec {
    if (kind == Kind.RMS_NORM && bias != null) throw new IllegalArgumentException("RMSNorm has no bias");
    if (kind == Kind.LAYER_NORM && bias == null) throw new IllegalArgumentException("LayerNorm needs a bias name");
  }
}
