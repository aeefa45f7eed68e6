package dev.weft.parallel.pp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The bubble benchmark: measured idle near theory at p = 4, m = 8, and 1F1B's activation peak at (p/m) of GPipe's. */
class BubbleBenchCommandTest {
  @Test
  void measuredBubbleAndMemoryMatchTheory() throws Exception {
    BubbleBenchCommand bench = new BubbleBenchCommand();
    bench.repeats = 1;
    BubbleBenchCommand.Measured gpipe = bench.measure("gpipe");
    BubbleBenchCommand.Measured ofob = bench.measure("1f1b");
    BubbleBenchCommand.Measured zb = bench.measure("zb");
    assertThat(gpipe.theory()).isCloseTo(3.0 / 11, org.assertj.core.data.Offset.offset(1e-12));
    for (BubbleBenchCommand.Measured r : new BubbleBenchCommand.Measured[] {gpipe, ofob, zb}) {
      for (double idle : r.idle()) assertThat(idle).as(r.schedule()).isBetween(r.theory() - 0.05, r.theory() + 0.05);
    }
    assertThat(zb.meanIdle()).isLessThan(ofob.meanIdle());
    // 1F1B stashes p of GPipe's m activations: peak at most (p/m) x GPipe's + 10%
    assertThat((double) ofob.maxPeak()).isLessThanOrEqualTo(4.0 / 8 * gpipe.maxPeak() * 1.10);
    long act = 256 * 1024L;
    assertThat(gpipe.maxPeak()).isBetween(8 * act, 8 * act + 16 * 1024);
    assertThat(ofob.peakBytes()[3]).isBetween(act, act + 16 * 1024);
  }

  @Test
  void commandPrintsTheComparison() {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream old = System.out;
    int code;
    try {
      System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
      code = new CommandLine(new BubbleBenchCommand()).execute("--unit-ms", "1", "--repeats", "1", "--pp", "2", "--micro-batches", "4");
    } finally {
      System.setOut(old);
    }
    String out = buf.toString(StandardCharsets.UTF_8);
    assertThat(code).isZero();
    assertThat(out).contains("timed wait", "gpipe", "1f1b", "interleaved", "zb", "1f1b peak");
  }
}
