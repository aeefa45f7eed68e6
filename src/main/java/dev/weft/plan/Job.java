package dev.weft.plan;

import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;

/**
 * What is to be trained: the model shape, the global batch (sequences of {@code model.context()}
 * tokens per optimizer step) and the precision. Tokens per step = globalBatch * context.
 */
public record Job(ModelSpec model, int globalBatch, Precision precision) {
  public Job {
    if (globalBatch <= 0) {
      throw new dev.weft.WeftInputException("--global-batch must be positive, got " + globalBatch + ".");
    }
  }

  public long tokensPerStep() {
    return (long) globalBatch * model.context();
  }
}
