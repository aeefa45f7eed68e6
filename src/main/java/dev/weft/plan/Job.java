package dev.weft.plan;

import dev.weft.WeftInputException;
import dev.weft.models.gpt2.GPT2Config;

/**
 * What is to be trained: the model's shape ({@link ModelDims}), the global batch (sequences of
 * {@code shape.seq()} tokens per optimizer step), the precision, and the software it runs on
 * ({@link Software}). Tokens per step = globalBatch * seq.
 */
public record Job(ModelDims shape, int globalBatch, Precision precision, Software software) {
  public Job {
    if (globalBatch <= 0) {
      throw new WeftInputException("--global-batch must be positive, got " + globalBatch + ".");
    }
    if (software == null) software = Software.DEFAULT;
  }

  public Job(ModelDims shape, int globalBatch, Precision precision) {
    this(shape, globalBatch, precision, Software.DEFAULT);
  }

  /** A model given by its specification, on the default software. */
  public Job(dev.weft.model.ModelSpec model, int globalBatch, Precision precision) {
    this(ModelDims.of(model), globalBatch, precision, Software.DEFAULT);
  }

  /** A GPT-2 model (Weft's own runtime models), on the default software. */
  public Job(GPT2Config model, int globalBatch, Precision precision) {
    this(ModelDims.of(model), globalBatch, precision, Software.DEFAULT);
  }

  /** The GPT2Config of a GPT-2 job, for the runtime memory model (refused, with the reason, for other shapes). */
  public dev.weft.model.ModelSpec model() {
    return shape.toSpec();
  }

  public Job withSoftware(Software s) {
    return new Job(shape, globalBatch, precision, s);
  }

  public long tokensPerStep() {
    return (long) globalBatch * shape.seq();
  }
}
