package dev.weft.train;

/**
 * What a check that compares runs (as {@code weft verify} does) sees of a training run, step by step: the full,
 * layout-independent gradients of each step once they are reduced (before clipping and the update), and the full
 * parameters after the update. Gathering them is a collective every rank takes part in; rank 0 receives them.
 * Flat arrays in the order of the full {@link dev.weft.model.ParameterLayout}.
 */
public interface StepObserver {
  /** Step {@code step}'s reduced gradients of every parameter (the optimizer clips and applies these). */
  void gradients(int step, float[] full);

  /** Every parameter after step {@code step}'s update. */
  void parameters(int step, float[] full);
}
