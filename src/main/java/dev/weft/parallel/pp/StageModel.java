package dev.weft.parallel.pp;

/**
 * The model chunks one PP rank runs, as {@link PipelineExecutor} sees them: how the GPT-2 stages (or a test
 * model) plug into any schedule. All calls for one step come from the executor's thread, in the schedule's
 * order; virtual stages are global indices 0..p*v-1 and only this rank's stages are called.
 *
 * <p>Buffers: every array the executor passes is exactly {@link #activationLength} long, owned by the executor
 * and valid only during the call; the model copies whatever it needs later (its activations for the backward,
 * the output gradient for a deferred weight pass) into its own stash, charged to the rank's DeviceMemory, and
 * frees that stash once the (stage, micro-batch)'s backward, or weight pass, has run. Input gradients must be
 * written in full (the executor hands them over zero-filled, so accumulating kernels may add into them).
 *
 * <p>The model also owns its data and its loss: the first stage reads micro-batch mb's input itself, the last
 * stage computes and keeps the loss of micro-batch mb and starts the backward from it. Weight gradients
 * accumulate over the micro-batches of the step.
 */
public interface StageModel {
  /** Floats in the activation virtual stage {@code stage} sends to stage + 1 for micro-batch mb (and in the gradient coming back). */
  int activationLength(int stage, int microBatch);

  /**
   * Forward of {@code stage} for micro-batch mb: reads {@code input} (null on stage 0, which reads its own data)
   * and writes {@code output} (null on the last stage, which computes and keeps the loss instead).
   */
  void forward(int stage, int microBatch, float[] input, float[] output);

  /**
   * Input-gradient half of the backward: reads {@code gradOutput} (null on the last stage, which starts from
   * its loss) and writes {@code gradInput} (null on stage 0). Keeps what {@link #backwardWeight} will need.
   */
  void backwardInput(int stage, int microBatch, float[] gradOutput, float[] gradInput);

  /** Weight-gradient half of the backward: accumulates this micro-batch's weight gradients, then frees its stash. */
  void backwardWeight(int stage, int microBatch);

  /** The whole backward, input and weight gradients together. The default runs the two halves. */
  default void backward(int stage, int microBatch, float[] gradOutput, float[] gradInput) {
    backwardInput(stage, microBatch, gradOutput, gradInput);
    backwardWeight(stage, microBatch);
  }
}
