package dev.weft.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Keeps the JVM's start-up warning about the Vector API off the user's screen.
 *
 * <p>Weft's kernels use {@code jdk.incubator.vector}, and whenever an incubator module is resolved in the boot
 * layer the JVM prints {@value #INCUBATOR_WARNING} on stderr ({@code ModuleBootstrap.checkIncubatingStatus},
 * unconditionally: no option turns it off). A module layer created later does not warn, but it can only use
 * class loaders of its own, where the module's {@code @ForceInline} methods and java.base's qualified exports
 * to it do not apply, so the Vector API would not work (or not fast). So the {@code weft} script starts the
 * JVM ({@code bin/quiet-jdk/bin/java}) with stderr going through a filter that drops exactly that line, and the real
 * stderr kept as another file descriptor, named by {@code -Dweft.stderr.fd}. {@link #restore} (first thing in
 * {@link Main#main}) puts that descriptor back as stderr: from then on everything goes straight to the
 * terminal or file, unfiltered and in order, and the filter, seeing its input end, exits. Launched ranks have
 * the line dropped by {@link LaunchCommand}, which reads their stderr anyway.
 */
public final class BootStderr {
  /** The line the JVM prints at start-up when the Vector API is on (JDK 25). */
  public static final String INCUBATOR_WARNING = "WARNING: Using incubator modules: jdk.incubator.vector";

  private static final int STDERR = 2;

  private BootStderr() {}

  /**
   * Makes the descriptor named by the system property {@code weft.stderr.fd} this process's stderr again
   * (dup2, then close it). Without the property, or where that fails, stderr stays as it is: still correct,
   * only filtered.
   */
  public static void restore() {
    String fd = System.getProperty("weft.stderr.fd");
    if (fd == null || fd.isBlank()) return;
    try {
      int saved = Integer.parseInt(fd.trim());
      if (saved <= STDERR) return;
      Linker linker = Linker.nativeLinker();
      Optional<MethodHandle> dup2 = linker.defaultLookup().find("dup2").map(a -> linker.downcallHandle(a,
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)));
      Optional<MethodHandle> close = linker.defaultLookup().find("close").map(a -> linker.downcallHandle(a,
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)));
      if (dup2.isEmpty() || close.isEmpty()) return;
      System.err.flush();
      if ((int) dup2.get().invokeExact(saved, STDERR) == STDERR) {
        int ignored = (int) close.get().invokeExact(saved);
      }
    } catch (Throwable e) {
      // not a number, no libc, no native access: keep the filtered stderr
    }
  }
}
