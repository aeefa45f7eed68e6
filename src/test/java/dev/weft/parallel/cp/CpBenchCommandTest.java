package dev.weft.parallel.cp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The benchmark runs end to end on a small shape and prints its figures; timings are not asserted. */
class CpBenchCommandTest {
  @Test
  void smallRunPrintsBothLayoutsAndTheTargets() {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(buf, true));
      code = new CommandLine(new CpBenchCommand()).execute("--seq", "512", "--d-model", "48", "--heads", "6",
          "--iters", "1");
    } finally {
      System.setOut(old);
    }
    String s = buf.toString();
    System.out.print(s);
    assertThat(code).isZero();
    assertThat(s).contains("balanced layout", "contiguous layout", "K/V wait / attention time", "slowest / fastest");
  }

  @Test
  void balancedLayoutGivesEveryRankTheSameTiles() throws Exception {
    CpBenchCommand.Result r = CpBenchCommand.measure(1, 1024, 24, 2, 2, CpLayout.Kind.BALANCED, 0, 1, 1);
    assertThat(r.tiles()[0]).isEqualTo(r.tiles()[1]);
  }
}
