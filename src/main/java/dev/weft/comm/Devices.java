package dev.weft.comm;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * What a rank is ({@code --devices}): {@link #LOCAL}, a thread of this process (the in-process backend), or
 * {@link #TCP}, this process being one rank of a job started by {@code weft launch} (or another
 * torchrun-style launcher), connected to the others over TCP and shared memory.
 */
public enum Devices {
  LOCAL, TCP;

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Devices parse(String s) {
    return switch (s.trim().toLowerCase(Locale.ROOT)) {
      case "local" -> LOCAL;
      case "tcp" -> TCP;
      default -> throw new WeftInputException("--devices must be local (ranks are threads) or tcp (ranks are processes "
          + "started by 'weft launch'), got '" + s + "'.");
    };
  }
}
