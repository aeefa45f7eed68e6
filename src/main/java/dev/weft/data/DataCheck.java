package dev.weft.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Looks at a user's corpus before training or preparing it, and says in one line when it is tiny (fewer
 * than {@link #TINY_BYTES} bytes, or fewer tokens than one batch needs) or does not look like text (see
 * {@link ByteStats#looksLikeText}), with its size and byte statistics. Only a warning: the run goes on.
 */
public final class DataCheck {
  /** Text shorter than this is tiny whatever the batch. */
  public static final long TINY_BYTES = 4096;

  private DataCheck() {}

  /**
   * The warning for {@code corpus} (read from {@code what}, e.g. "--data notes.txt"), or empty when it looks
   * fine. {@code batchTokens} is what one batch takes (sequences x (context + 1)), 0 when unknown.
   */
  public static Optional<String> warning(String what, Corpus corpus, long batchTokens) {
    ByteStats stats = corpus.byteStats();
    List<String> problems = new ArrayList<>();
    List<String> advice = new ArrayList<>();
    boolean tinyBytes = stats != null && stats.bytes() < TINY_BYTES;
    boolean tinyBatch = batchTokens > 0 && corpus.trainSize() < batchTokens;
    if (tinyBytes || tinyBatch) {
      problems.add("is tiny");
      advice.add(tinyBatch
          ? String.format(Locale.ROOT, "its %,d training tokens are fewer than one batch takes (%,d), so every batch "
              + "repeats the same few windows", corpus.trainSize(), batchTokens)
          : String.format(Locale.ROOT, "under %,d bytes a model learns little beyond memorising it", TINY_BYTES));
    }
    if (stats != null && !stats.looksLikeText()) {
      problems.add("does not look like text");
      advice.add(String.format(Locale.ROOT, "only %.1f%% of its bytes read as text (well-formed UTF-8, not control "
          + "bytes; text has over %.0f%%)", 100 * stats.textShare(), 100 * ByteStats.TEXT_SHARE));
    }
    if (problems.isEmpty()) return Optional.empty();
    String size = stats != null ? stats.describe()
        : String.format(Locale.ROOT, "%,d tokens", corpus.size());
    return Optional.of("warning: " + what + " " + String.join(" and ", problems) + " (" + size + "): "
        + String.join("; ", advice) + ". Training goes on; give more text for a meaningful run.");
  }
}
