package dev.weft.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TracerTest {
  @Test
  void writesChromeTraceEventsAndDrawsThemOneRowPerRank(@TempDir Path dir) throws Exception {
    Tracer t = new Tracer();
    long now = System.nanoTime();
    t.add(0, "F s0 mb0", "compute", now, now + 2_000_000);
    t.add(1, "recv s1 mb0", "comm", now, now + 2_000_000);
    t.add(1, "F s1 mb0", "compute", now + 2_000_000, now + 4_000_000);
    Path f = dir.resolve("t.json");
    t.write(f);
    JsonNode root = new ObjectMapper().readTree(f.toFile());
    long complete = 0;
    for (JsonNode e : root.get("traceEvents")) if (e.get("ph").asText().equals("X")) complete++;
    assertThat(complete).isEqualTo(3);
    String svg = TimelineSvg.render(f, 0, 0);
    assertThat(svg).startsWith("<svg").contains("rank 0").contains("rank 1").contains("F s1 mb0");
  }

  @Test
  void aFileThatIsNotATraceIsBadInput(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("x.json");
    Files.writeString(f, "{\"hello\": 1}");
    assertThatThrownBy(() -> TimelineSvg.render(f, 0, 0)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("not a trace");
  }
}
