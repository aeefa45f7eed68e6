package dev.weft.data;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * Deterministic batches of token windows from a {@link Corpus}.
 *
 * <p>Training: row {@code i} of the global batch of optimizer step {@code s} is the window of T+1 tokens
 * starting at {@link #trainOffset}{@code (s, i, T)}, a pure function of (seed, s, i) and the corpus size
 * (a SplitMix64 hash, reduced modulo the number of windows). It depends on nothing else: not on the batch
 * size, the device layout or earlier steps. So a data-parallel rank can build just its rows, and a run
 * resumed at step s sees exactly the batches an uninterrupted run would (the data position is the step).
 *
 * <p>Validation: row {@code j = index * B + r} starts at a fixed, evenly spread point of the validation
 * part (the fractional part of (j + 1/2) times the golden ratio), the same for every seed.
 *
 * <p>A batch is an {@code int[B * (T+1)]}, row-major [B, T+1]: inputs are columns [0, T), targets [1, T+1).
 */
public final class BatchSampler {
  private static final double GOLDEN_FRACTION = 0.6180339887498949; // (sqrt 5 - 1) / 2

  private final Corpus corpus;
  private final long seed;

  public BatchSampler(Corpus corpus, long seed) {
    this.corpus = corpus;
    this.seed = seed;
  }

  public Corpus corpus() {
    return corpus;
  }

  public long seed() {
    return seed;
  }

  /** The global batch of optimizer step {@code step}: B rows of T+1 tokens. */
  public int[] trainBatch(long step, int B, int T) {
    return trainRows(step, 0, B, T);
  }

  /** Rows [firstRow, firstRow + rows) of step {@code step}'s global batch (the same rows trainBatch has). */
  public int[] trainRows(long step, int firstRow, int rows, int T) {
    checkShape(rows, T);
    if (step < 0 || firstRow < 0) throw new IllegalArgumentException("step " + step + ", first row " + firstRow);
    int w = T + 1;
    int[] out = new int[Math.multiplyExact(rows, w)];
    for (int r = 0; r < rows; r++) corpus.copyTrain(trainOffset(step, firstRow + r, T), out, r * w, w);
    return out;
  }

  /** Where row {@code row} of step {@code step} starts in the training part: uniform over the windows. */
  public long trainOffset(long step, long row, int T) {
    long windows = corpus.trainSize() - T; // starts 0 .. size - (T+1)
    if (windows <= 0) {
      throw new WeftInputException(String.format(Locale.ROOT, "The training corpus has %,d tokens; the context "
          + "T=%d needs at least T+1=%d. Give more text with --data or a smaller --context.",
          corpus.trainSize(), T, T + 1));
    }
    long h = SplitMix.mix64(SplitMix.mix64(SplitMix.mix64(seed) + step) + row);
    return Long.remainderUnsigned(h, windows);
  }

  /** True when the validation part is long enough for windows of T+1 tokens. */
  public boolean canValidate(int T) {
    return corpus.valSize() >= T + 1L;
  }

  /** Validation batch {@code index}: B rows of T+1 tokens at fixed positions (independent of the seed). */
  public int[] valBatch(int index, int B, int T) {
    checkShape(B, T);
    if (index < 0) throw new IllegalArgumentException("validation batch index " + index);
    long windows = corpus.valSize() - T;
    if (windows <= 0) {
      throw new WeftInputException(String.format(Locale.ROOT, "The validation part of the corpus has %,d tokens; "
          + "the context T=%d needs at least T+1=%d. Give more text with --data (1%% is held out) or a smaller "
          + "--context.", corpus.valSize(), T, T + 1));
    }
    int w = T + 1;
    int[] out = new int[Math.multiplyExact(B, w)];
    for (int r = 0; r < B; r++) {
      long j = (long) index * B + r;
      double frac = ((j + 0.5) * GOLDEN_FRACTION) % 1.0;
      long start = Math.min(windows - 1, (long) (frac * windows));
      corpus.copyVal(start, out, r * w, w);
    }
    return out;
  }

  private static void checkShape(int rows, int T) {
    if (rows <= 0 || T <= 0) throw new IllegalArgumentException("batch rows " + rows + " and T " + T + " must be positive");
  }
}
