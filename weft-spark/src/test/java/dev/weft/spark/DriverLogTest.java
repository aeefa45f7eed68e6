package dev.weft.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Rank output travels from a task to the driver's console with the rank's prefix, and only with the secret. */
class DriverLogTest {
  @Test
  void linesArriveWithTheRankPrefixOnTheirStream() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try (DriverLog log = DriverLog.open("127.0.0.1", "s3cret", new PrintStream(out, true), new PrintStream(err, true))) {
      DriverLog.Endpoint e = log.endpoint();
      try (DriverLog.Client c = new DriverLog.Client(e, 3)) {
        c.line(false, "step 1/10  loss 5.5");
        c.line(true, "weft: something odd");
      }
      try (DriverLog.Client intruder = new DriverLog.Client(new DriverLog.Endpoint(e.host(), e.port(), "guess"), 9)) {
        intruder.line(false, "not printed");
      }
    }
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("[rank 3] step 1/10  loss 5.5" + System.lineSeparator());
    assertThat(err.toString(StandardCharsets.UTF_8)).isEqualTo("[rank 3] weft: something odd" + System.lineSeparator());
  }
}
