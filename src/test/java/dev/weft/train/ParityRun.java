package dev.weft.train;

import dev.weft.parallel.Parallelism;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * The one-device reference a parity test holds every layout against, for a small GPT-2 on the seeded test
 * corpus: 20 training steps (lr 3e-3 with 3 warm-up steps, weight decay 0.1, clipping at 1, seed 5) of a
 * given global batch, and one forward and backward of seeded weights on B seeded sequences of the model's
 * full context. The one-device results are computed once, on first use.
 */
public final class ParityRun {
  /** Where trainers in tests print. */
  public static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

  private final ModelSpec model;
  private final Path data;
  private final int batch;
  private final int evalBatches;
  private Trainer.Result serial;
  private ParameterLayout layout;
  private float[] weights;
  private int[] tokens;
  private Gradients.Result serialGrads;
  private int gradsBatch;

  /** Writes the corpus into {@code dir}; {@code evalBatches} 0 leaves out the validation loss. */
  public ParityRun(ModelSpec model, Path dir, int batch, int evalBatches) throws IOException {
    this.model = model;
    this.data = TestCorpus.letters(dir);
    this.batch = batch;
    this.evalBatches = evalBatches;
  }

  /** The run under layout {@code p} with micro-batches of {@code microBatch} sequences. */
  public TrainConfig config(Parallelism p, int microBatch) {
    return TrainConfig.builder(model).steps(20).batch(batch).microBatch(microBatch).lr(3e-3).warmup(3).seed(5).evalEvery(0).evalBatches(evalBatches).threads(1).data(data).parallel(p).build();
  }

  public Trainer.Result train(Parallelism p, int microBatch) {
    return new Trainer(config(p, microBatch), QUIET).run();
  }

  /** One device, the whole batch in one micro-batch. */
  public synchronized Trainer.Result serial() {
    if (serial == null) serial = train(Parallelism.SINGLE, batch);
    return serial;
  }

  /** Training under {@code p} equals one device's ({@link TestCorpus#assertTrainsAlike}); returns the run. */
  public Trainer.Result assertTrainsLikeOneDevice(Parallelism p, int microBatch) {
    Trainer.Result r = train(p, microBatch);
    TestCorpus.assertTrainsAlike(r, serial());
    return r;
  }

  /**
   * One forward and backward under {@code p} of {@code b} sequences equals one device's
   * ({@link TestCorpus#assertSameGradients}).
   */
  public void assertGradientsLikeOneDevice(Parallelism p, int b) {
    Gradients.Result one = serialGrads(b);
    int T = model.context();
    TestCorpus.assertSameGradients(layout, Gradients.compute(layout, weights, tokens, b, T, p, 1, "vector"), one);
  }

  private synchronized Gradients.Result serialGrads(int b) {
    if (serialGrads == null || gradsBatch != b) {
      layout = new ParameterLayout(model);
      weights = TestCorpus.perturbedWeights(layout);
      tokens = TestCorpus.randomTokens(b, model.context(), model.vocab());
      serialGrads = Gradients.compute(layout, weights, tokens, b, model.context(), Parallelism.SINGLE, 1,
          "vector");
      gradsBatch = b;
    }
    return serialGrads;
  }
}
