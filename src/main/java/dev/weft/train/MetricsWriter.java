package dev.weft.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes one JSON object per optimizer step (JSON Lines), flushed per line so a crash keeps what ran. */
public final class MetricsWriter implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final BufferedWriter out;

  public MetricsWriter(Path file) {
    try {
      Path parent = file.toAbsolutePath().getParent();
      if (parent != null) Files.createDirectories(parent);
      this.out = Files.newBufferedWriter(file);
    } catch (IOException e) {
      throw new dev.weft.WeftInputException("cannot write the metrics file " + file + ": " + e.getMessage()
          + ". Check that its folder exists and is writable.");
    }
  }

  public void write(StepMetrics m) {
    ObjectNode o = JSON.createObjectNode();
    o.put("step", m.step());
    o.put("loss", m.loss());
    o.put("lr", m.lr());
    o.put("grad_norm", m.gradNorm());
    o.put("tokens", m.tokens());
    o.put("step_ms", m.stepMs());
    o.put("tokens_per_s", m.tokensPerS());
    o.put("peak_bytes", m.peakBytes());
    ArrayNode per = o.putArray("peak_bytes_per_device");
    for (long b : m.peakBytesPerDevice()) per.add(b);
    o.put("comm_ms", m.commMs());
    o.put("comm_bytes", m.commBytes());
    o.put("exposed_comm_ms", m.exposedCommMs());
    if (!Double.isNaN(m.valLoss())) o.put("val_loss", m.valLoss());
    try {
      out.write(JSON.writeValueAsString(o));
      out.write('\n');
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    try {
      out.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
