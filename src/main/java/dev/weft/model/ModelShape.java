package dev.weft.model;

/**
 * Shape overrides given on a command line ({@code --layers --d-model --heads --kv-heads --ffn --context
 * --vocab}); a null field keeps what the preset or checkpoint says. A family applies them to its own
 * configuration ({@link ModelFamily#apply}), refusing those it has no such field for.
 */
public record ModelShape(Integer layers, Integer dModel, Integer heads, Integer kvHeads, Integer ffn, Integer context,
                         Integer vocab) {
  public static final ModelShape NONE = new ModelShape(null, null, null, null, null, null, null);

  public boolean any() {
    return layers != null || dModel != null || heads != null || kvHeads != null || ffn != null || context != null
        || vocab != null;
  }

  public ModelShape withContext(int t) {
    return new ModelShape(layers, dModel, heads, kvHeads, ffn, t, vocab);
  }

  public static int or(Integer given, int base) {
    return given != null ? given : base;
  }
}
