package dev.weft.model;

/**
 * One pre-norm transformer block, the same for every layer:
 * {@code h = x + attention(norm1(x)); y = h + mlp(norm2(h))}. Parameter names in it are suffixes after the
 * layer's prefix ({@link ModelSpec#layerPrefix}).
 */
public record BlockSpec(NormSpec norm1, AttentionSpec attention, NormSpec norm2, MlpSpec mlp) {}
