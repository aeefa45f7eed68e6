package dev.weft.model;

/**
 * How a parameter is initialised, independent of any device layout: {@link Normal} draws the whole tensor
 * from a stream seeded by (seed, parameter name) and every rank keeps its slice; {@link Constant} fills it.
 */
public sealed interface Init {
  /** i.i.d. N(0, std^2). */
  record Normal(double std) implements Init {}

  /** Every element {@code value} (1 for norm gains, 0 for biases). */
  record Constant(float value) implements Init {}

  Init ZEROS = new Constant(0f);
  Init ONES = new Constant(1f);

  static Init normal(double std) {
    return new Normal(std);
  }
}
