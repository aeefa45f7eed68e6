package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.data.Corpus;
import dev.weft.data.DataCheck;
import java.io.PrintStream;

/**
 * Checks the loaded corpus against the run before training starts: its tokens must fit the model's
 * vocabulary (an error naming the fix; checked token by token only when the corpus's vocabulary is larger,
 * so a byte corpus whose bytes stay below a smaller model vocabulary still trains), and a user's data that is tiny or not text gets one warning line
 * ({@link DataCheck}) while training goes on.
 */
final class TrainingData {
  private TrainingData() {}

  static void check(Corpus corpus, TrainConfig cfg, PrintStream log) {
    int modelVocab = cfg.model().vocab();
    int max;
    if (corpus.vocabSize() > modelVocab && (max = corpus.maxToken()) >= modelVocab) {
      throw new WeftInputException("--data " + (cfg.data() == null ? "(the default corpus)" : cfg.data())
          + " holds token id " + max + " of a vocabulary of " + corpus.vocabSize() + " (" + corpus.tokenizer()
          + "), but the model's vocabulary has " + modelVocab + " tokens, so that id would have no embedding. Give "
          + "--vocab " + corpus.vocabSize() + " (or a preset with that vocabulary), or prepare the data with the "
          + "model's tokenizer.");
    }
    if (cfg.data() == null) return;
    long batchTokens = (long) cfg.batch() * (cfg.model().context() + 1);
    DataCheck.warning("--data " + cfg.data(), corpus, batchTokens).ifPresent(log::println);
  }
}
