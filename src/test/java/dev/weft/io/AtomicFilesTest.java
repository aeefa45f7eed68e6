package dev.weft.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir Path dir;

  private long filesIn(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.count();
    }
  }

  @Test
  void writeStringCreatesFoldersReplacesTheTargetAndLeavesNoTemporaryFile() throws IOException {
    Path f = dir.resolve("sub/state.json");
    AtomicFiles.writeString(f, "{\"step\": 1}");
    AtomicFiles.writeString(f, "{\"step\": 2} é");
    assertThat(Files.readString(f)).isEqualTo("{\"step\": 2} é");
    assertThat(filesIn(f.getParent())).isEqualTo(1);
  }

  @Test
  void aWriterThatThrowsMidwayLeavesTheOldFileAndNoTemporaryFile() throws IOException {
    Path f = dir.resolve("model.json");
    AtomicFiles.writeString(f, "old");
    assertThatThrownBy(() -> AtomicFiles.writeText(f, w -> {
      w.write("new content, half written");
      w.flush();
      throw new IllegalStateException("crash");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(Files.readString(f)).isEqualTo("old");
    assertThat(filesIn(dir)).isEqualTo(1);
  }

  @Test
  void aChannelWriterThatFailsLeavesNoFileAtAll() throws IOException {
    Path f = dir.resolve("model.safetensors");
    assertThatThrownBy(() -> AtomicFiles.writeChannel(f, ch -> {
      ch.write(ByteBuffer.wrap(new byte[1 << 20]));
      throw new IOException("disk full");
    })).isInstanceOf(WeftInputException.class).hasMessageContaining(f.toString()).hasMessageContaining("disk full");
    assertThat(filesIn(dir)).isZero();
  }

  @Test
  void aTargetWhoseFolderCannotExistIsAWeftInputException() throws IOException {
    Path blocker = dir.resolve("file");
    Files.writeString(blocker, "x");
    assertThatThrownBy(() -> AtomicFiles.writeString(blocker.resolve("config.json"), "{}"))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("config.json");
  }
}
