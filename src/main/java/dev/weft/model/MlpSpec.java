package dev.weft.model;

/**
 * The MLP of a block with {@code hidden} = F features: ungated {@code out(act(in(x)))} with in: C -> F
 * (GPT-2: GELU in its tanh form), or gated {@code out(act(gate(x)) * up(x))} with in: C -> 2F laid out
 * gate | up (Llama's SwiGLU: SiLU). {@code in} is column-parallel (a rank keeps F/t of gate and of up),
 * {@code out} row-parallel.
 */
public record MlpSpec(Activation activation, boolean gated, int hidden, LinearSpec in, LinearSpec out) {
  /** The elementwise nonlinearity. */
  public enum Activation {
    /** 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GPT-2's gelu_new). */
    GELU_TANH,
    /** x sigmoid(x). */
    SILU
  }

  /** Width of the {@code in} projection's output: F, or 2F when gated. */
  public int inWidth() {
    return gated ? 2 * hidden : hidden;
  }
}
