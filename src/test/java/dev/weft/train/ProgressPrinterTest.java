package dev.weft.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ProgressPrinterTest {
  /** A clock the test moves by hand. */
  static final class FakeClock {
    long nanos = 1_000_000_000L;
  }

  static StepMetrics metrics(int step, double stepMs, double val) {
    return new StepMetrics(step, 2.5, 1e-3, 0.5, 1024, stepMs, 1024 / (stepMs / 1e3), 0, new long[1], 0, 0, val, 0);
  }

  static List<String> lines(ByteArrayOutputStream b) {
    return b.toString(StandardCharsets.UTF_8).lines().toList();
  }

  @Test
  void aLogGetsTheFirstStepsThenALineEveryFewSecondsWithTheTimeLeft() {
    FakeClock clock = new FakeClock();
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    int last = 100_000;
    ProgressPrinter p = new ProgressPrinter(new PrintStream(b, true, StandardCharsets.UTF_8), last, false,
        () -> clock.nanos);
    SplittableRandom rnd = new SplittableRandom(7);
    List<Long> printedAt = new ArrayList<>();
    for (int step = 1; step <= last; step++) {
      double ms = 8 + 4 * rnd.nextDouble(); // about 10 ms a step: 100k steps are about 17 minutes
      clock.nanos += Math.round(ms * 1e6);
      int before = b.size();
      p.step(metrics(step, ms, step % 25_000 == 0 ? 2.0 : Double.NaN));
      if (b.size() > before && step > ProgressPrinter.FIRST_STEPS) printedAt.add(clock.nanos);
    }
    List<String> out = lines(b);
    assertThat(out.get(0)).startsWith("step 1/100000 ");
    assertThat(out.get(1)).startsWith("step 2/100000 ");
    assertThat(out.get(2)).startsWith("step 3/100000 ");
    assertThat(out.get(out.size() - 1)).startsWith("step 100000/100000 ").doesNotContain("eta");
    assertThat(out).filteredOn(l -> l.contains("val 2.0000")).hasSize(4);
    // never more than the interval (plus one step) between two lines, and not many more lines than needed
    for (int i = 1; i < printedAt.size(); i++) {
      assertThat(printedAt.get(i) - printedAt.get(i - 1)).isLessThanOrEqualTo(ProgressPrinter.EVERY_NANOS + 12_000_000L);
    }
    assertThat(out.size()).isBetween(190, 220); // about 1000 s / 5 s
    // the estimate: after step 3 about 99,997 x 10 ms are left, i.e. about 16m40s
    String third = out.get(2);
    String eta = third.substring(third.indexOf("eta ") + 4);
    assertThat(eta).matches("1[4-9]m\\d\\ds");
  }

  @Test
  void theEstimateOfAResumedRunCountsOnlyTheStepsItRan() {
    FakeClock clock = new FakeClock();
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    ProgressPrinter p = new ProgressPrinter(new PrintStream(b, true, StandardCharsets.UTF_8), 200, false,
        () -> clock.nanos);
    for (int step = 101; step <= 110; step++) {
      clock.nanos += 2_000_000_000L; // 2 s a step
      p.step(metrics(step, 2000, Double.NaN));
    }
    // lines for 101-103, then every 5 s: 106 and 109; after step 109, 91 steps of 2 s are left
    assertThat(lines(b)).extracting(l -> l.substring(0, l.indexOf(' ', 5)))
        .containsExactly("step 101/200", "step 102/200", "step 103/200", "step 106/200", "step 109/200");
    assertThat(lines(b).get(4)).endsWith("eta 3m02s");
  }

  @Test
  void onATerminalTheBarIsRedrawnAndOtherLinesEndItFirst() {
    FakeClock clock = new FakeClock();
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    ProgressPrinter p = new ProgressPrinter(new PrintStream(b, true, StandardCharsets.UTF_8), 4, true,
        () -> clock.nanos);
    for (int step = 1; step <= 4; step++) {
      clock.nanos += 1_000_000L;
      p.step(metrics(step, 1, Double.NaN));
      if (step == 2) p.line("saved checkpoint step 2 to runs/x");
    }
    p.finish();
    String s = b.toString(StandardCharsets.UTF_8);
    assertThat(s).contains("\r[############------------] step 2/4 ");
    assertThat(s).contains("   \nsaved checkpoint step 2 to runs/x\n\r[");
    assertThat(s).endsWith("   \n");
  }

  @Test
  void durationsReadAsSecondsMinutesOrHours() {
    assertThat(ProgressPrinter.duration(42)).isEqualTo("42s");
    assertThat(ProgressPrinter.duration(187)).isEqualTo("3m07s");
    assertThat(ProgressPrinter.duration(7500)).isEqualTo("2h05m");
  }
}
