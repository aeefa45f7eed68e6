package dev.weft.io;

import dev.weft.WeftInputException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files so that a reader (or a crash) never sees a half-written one under the final name: the
 * content goes to a hidden temporary file in the same folder ({@code .NAME.tmp-RANDOM}), is forced to
 * disk, and is then renamed over the target in one atomic step; the folder is synced so the rename
 * itself survives a crash. If the body throws, the temporary file is deleted and the target is left as
 * it was. Missing parent folders are created.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Writes something to an open output; may throw {@link IOException}. */
  @FunctionalInterface
  public interface Body<T> {
    void write(T out) throws IOException;
  }

  /** Writes {@code text} as UTF-8 to {@code target}, atomically. */
  public static void writeString(Path target, String text) {
    writeText(target, w -> w.write(text));
  }

  /** Writes UTF-8 text produced by {@code body} to {@code target}, atomically. */
  public static void writeText(Path target, Body<Writer> body) {
    writeChannel(target, ch -> {
      Writer w = new BufferedWriter(new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8));
      body.write(w);
      w.flush(); // not close(): the channel is closed (after fsync) by writeChannel
    });
  }

  /** Writes bytes produced by {@code body} on a file channel to {@code target}, atomically. */
  public static void writeChannel(Path target, Body<FileChannel> body) {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    Path tmp = dir.resolve("." + abs.getFileName() + ".tmp-"
        + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16));
    boolean done = false;
    try {
      Files.createDirectories(dir);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        body.write(ch);
        ch.force(true);
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
      done = true;
      syncDirectory(dir);
    } catch (IOException e) {
      throw new WeftInputException("Could not write " + target + ": " + describe(e)
          + ". Check that the folder exists or can be created, that it is writable, and that the disk has space.", e);
    } finally {
      if (!done) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // best effort: the original failure is the one worth reporting
        }
      }
    }
  }

  /** Makes a completed rename durable; not every file system lets a folder be opened, so failures are ignored. */
  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // e.g. Windows: folders cannot be opened as channels; the rename is still atomic
    }
  }

  public static String describe(IOException e) {
    String kind = e.getClass().getSimpleName();
    String msg = e.getMessage();
    return switch (kind) {
      case "NoSuchFileException" -> "no such file or folder (" + msg + ")";
      case "AccessDeniedException" -> "permission denied (" + msg + ")";
      case "FileAlreadyExistsException" -> "a file is in the way (" + msg + ")";
      case "NotDirectoryException" -> "not a folder (" + msg + ")";
      default -> msg == null ? kind : msg;
    };
  }
}
