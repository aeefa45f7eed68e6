package dev.weft.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BatchSamplerTest {
  private static Corpus randomCorpus(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return Corpus.ofText("random", b);
  }

  private final Corpus corpus = randomCorpus(200_000, 1);

  @Test
  void theSameSeedAndStepGiveTheSameBatchAndOtherStepsOrSeedsDiffer() {
    BatchSampler s1 = new BatchSampler(corpus, 42);
    BatchSampler s2 = new BatchSampler(corpus, 42);
    BatchSampler other = new BatchSampler(corpus, 43);
    int[] a = s1.trainBatch(7, 8, 32);
    assertThat(a).hasSize(8 * 33);
    assertThat(s2.trainBatch(7, 8, 32)).isEqualTo(a);
    assertThat(s1.trainBatch(8, 8, 32)).isNotEqualTo(a);
    assertThat(other.trainBatch(7, 8, 32)).isNotEqualTo(a);
  }

  @Test
  void anySliceOfRowsEqualsThoseRowsOfTheGlobalBatch() {
    BatchSampler s = new BatchSampler(corpus, 9);
    int T = 16;
    int[] global = s.trainBatch(1234, 12, T);
    for (int first = 0; first < 12; first += 3) {
      int[] slice = s.trainRows(1234, first, 3, T);
      assertThat(slice).isEqualTo(Arrays.copyOfRange(global, first * (T + 1), (first + 3) * (T + 1)));
    }
    // Rows do not depend on the batch size either: the first rows of a bigger batch are the same.
    assertThat(Arrays.copyOf(s.trainBatch(1234, 20, T), global.length)).isEqualTo(global);
  }

  @Test
  void rowsAreContiguousWindowsOfTheTrainingTextWithTokensInByteRange() {
    BatchSampler s = new BatchSampler(corpus, 5);
    int T = 64;
    for (long step = 0; step < 50; step++) {
      int[] b = s.trainBatch(step, 4, T);
      for (int r = 0; r < 4; r++) {
        long start = s.trainOffset(step, r, T);
        assertThat(start).isBetween(0L, corpus.trainSize() - (T + 1));
        for (int k = 0; k <= T; k++) {
          assertThat(b[r * (T + 1) + k]).isEqualTo(corpus.trainToken(start + k)).isBetween(0, 255);
        }
      }
    }
  }

  @Test
  void startOffsetsCoverTheCorpusEvenly() {
    Corpus small = randomCorpus(1_000 + 16, 2);
    BatchSampler s = new BatchSampler(small, 3);
    int[] hits = new int[10];
    int draws = 20_000;
    for (int step = 0; step < draws / 4; step++) {
      for (int r = 0; r < 4; r++) hits[(int) (s.trainOffset(step, r, 16) * 10 / (small.trainSize() - 16))]++;
    }
    for (int h : hits) assertThat(h).isBetween(draws / 10 - 300, draws / 10 + 300);
  }

  @Test
  void validationBatchesAreFixedWhateverTheSeedAndStayInTheHeldOutPart() {
    int T = 32;
    int[] a = new BatchSampler(corpus, 1).valBatch(3, 4, T);
    int[] b = new BatchSampler(corpus, 999).valBatch(3, 4, T);
    assertThat(a).isEqualTo(b);
    assertThat(new BatchSampler(corpus, 1).valBatch(4, 4, T)).isNotEqualTo(a);
    // Every row is a window of the validation text.
    int[] val = new int[(int) corpus.valSize()];
    corpus.copyVal(0, val, 0, val.length);
    String valText = Arrays.toString(val);
    for (int r = 0; r < 4; r++) {
      int[] row = Arrays.copyOfRange(a, r * (T + 1), (r + 1) * (T + 1));
      String inner = Arrays.toString(row);
      assertThat(valText).contains(inner.substring(1, inner.length() - 1));
    }
  }

  @Test
  void aCorpusShorterThanTheContextIsAClearError() {
    Corpus tiny = Corpus.ofText("tiny", "hello world".getBytes());
    BatchSampler s = new BatchSampler(tiny, 0);
    assertThatThrownBy(() -> s.trainBatch(0, 1, 64)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("has " + tiny.trainSize() + " tokens").hasMessageContaining("T+1=65");
    assertThat(s.canValidate(64)).isFalse();
    assertThatThrownBy(() -> s.valBatch(0, 1, 64)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("validation part");
    assertThat(s.trainBatch(0, 2, 4)).hasSize(10);
  }
}
