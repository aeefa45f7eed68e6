package dev.weft.parallel.tp;

import dev.weft.model.GPT2Config;
import dev.weft.model.TpSlice;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A tensor-parallel plan as data: which style each module of the model takes, by module path (the
 * parameter name without {@code .weight}/{@code .bias}; {@code *} matches one path element), first matching
 * rule wins. Applying the plan to a {@link GPT2Config} for rank i of t gives every parameter its slice of
 * the full tensor ({@link #slice}); {@link #verify} then checks, parameter by parameter, that what a rank
 * holds really is split the way its style says (and that the styles are those the GPT-2 forward computes
 * with: column-parallel c_attn and c_fc, row-parallel projections, vocabulary-parallel wte).
 *
 * <pre>
 *   COLWISE      Y_i = X W_i: weight [in, out] split by output columns, bias likewise
 *   COLWISE_QKV  the fused q|k|v projection: each of q, k, v split by columns (whole heads per rank)
 *   ROWWISE      Y = sum_i X_i W_i: weight [in, out] split by input rows; bias replicated (added after the sum)
 *   VOCAB        embedding rows split by vocabulary (padded to a multiple of t)
 *   REPLICATED   every rank holds the whole tensor
 * </pre>
 */
public record TensorParallelPlan(List<Rule> rules) {
  public enum Style { COLWISE, COLWISE_QKV, ROWWISE, VOCAB, REPLICATED }

  /** One rule: modules matching {@code pattern} take {@code style}. */
  public record Rule(String pattern, Style style) {
    boolean matches(String module) {
      String regex = Pattern.quote(pattern).replace("*", "\\E[^.]+\\Q");
      return module.matches(regex);
    }
  }

  /** Megatron's plan for GPT-2, the one Weft's forward computes with. */
  public static TensorParallelPlan gpt2() {
    return new TensorParallelPlan(List.of(
        new Rule("wte", Style.VOCAB),
        new Rule("wpe", Style.REPLICATED),
        new Rule("h.*.attn.c_attn", Style.COLWISE_QKV),
        new Rule("h.*.attn.c_proj", Style.ROWWISE),
        new Rule("h.*.mlp.c_fc", Style.COLWISE),
        new Rule("h.*.mlp.c_proj", Style.ROWWISE),
        new Rule("h.*.ln_1", Style.REPLICATED),
        new Rule("h.*.ln_2", Style.REPLICATED),
        new Rule("ln_f", Style.REPLICATED)));
  }

  /** The style of a parameter's module (REPLICATED when no rule matches). */
  public Style styleOf(String paramName) {
    String module = paramName.replaceAll("\\.(weight|bias)$", "");
    for (Rule r : rules) if (r.matches(module)) return r.style();
    return Style.REPLICATED;
  }

  /** A parameter's slice and local shape on rank {@code rank} of {@code t}: {slice, localShape}. */
  public Applied apply(String paramName, int[] fullShape, int t, int rank, int paddedVocab) {
    boolean bias = paramName.endsWith(".bias");
    Style style = styleOf(paramName);
    if (t == 1) style = Style.REPLICATED;
    return switch (style) {
      case REPLICATED -> new Applied(TpSlice.REPLICATED, fullShape.clone());
      case VOCAB -> {
        int vl = paddedVocab / t;
        yield new Applied(TpSlice.rows(rank * vl), new int[] {vl, fullShape[1]});
      }
      case COLWISE -> {
        int out = fullShape[fullShape.length - 1];
        int w = out / t;
        yield new Applied(TpSlice.columns(w, rank * w), bias ? new int[] {w} : new int[] {fullShape[0], w});
      }
      case COLWISE_QKV -> {
        int c = fullShape[fullShape.length - 1] / 3;
        int w = c / t;
        TpSlice s = TpSlice.columns(w, rank * w, c + rank * w, 2 * c + rank * w);
        yield new Applied(s, bias ? new int[] {3 * w} : new int[] {fullShape[0], 3 * w});
      }
      case ROWWISE -> {
        if (bias) yield new Applied(TpSlice.REPLICATED, fullShape.clone());
        int rows = fullShape[0] / t;
        yield new Applied(TpSlice.rows(rank * rows), new int[] {rows, fullShape[1]});
      }
    };
  }

  /** What applying the plan gives one parameter. */
  public record Applied(TpSlice slice, int[] localShape) {}

  /**
   * Checks, after applying, that every planned layer really is parallel: each parameter's local shape is the
   * full one divided the way its style says (and whole heads per rank for COLWISE_QKV), each replicated one
   * is whole, and the styles are those the GPT-2 forward computes with. Throws naming the first offender.
   */
  public static void verify(TensorParallelPlan plan, dev.weft.model.ParameterLayout layout) {
    int t = layout.tp();
    TensorParallelPlan required = gpt2();
    for (dev.weft.model.ParameterLayout.Param p : layout.params()) {
      Style style = plan.styleOf(p.name());
      Style needed = required.styleOf(p.name());
      if (t > 1 && style != needed) {
        throw new IllegalStateException(p.name() + " is planned " + style + " but the GPT-2 forward computes it "
            + needed + "; the plan and the model disagree.");
      }
      int[] f = p.fullShape();
      int[] l = p.shape();
      boolean ok = switch (t == 1 ? Style.REPLICATED : style) {
        case REPLICATED -> java.util.Arrays.equals(f, l) && p.slice().replicated();
        case VOCAB -> l[0] * t >= f[0] && l[0] * t < f[0] + t && l[1] == f[1];
        case COLWISE, COLWISE_QKV -> l[l.length - 1] * t == f[f.length - 1] && (l.length == 1 || l[0] == f[0]);
        case ROWWISE -> p.name().endsWith(".bias") ? java.util.Arrays.equals(f, l) : l[0] * t == f[0] && l[1] == f[1];
      };
      if (!ok) {
        throw new IllegalStateException(p.name() + " is planned " + style + " for tp=" + t + " but the rank holds "
            + java.util.Arrays.toString(l) + " of " + java.util.Arrays.toString(f) + ": the layer is not parallel as planned.");
      }
    }
  }
}
