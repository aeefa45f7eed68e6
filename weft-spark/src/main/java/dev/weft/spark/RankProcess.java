package dev.weft.spark;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One rank's child JVM on an executor: started with the rank's environment, its stdout and stderr pumped
 * line by line to a {@link RankOutput}, the last lines kept for the failure message, and its whole process
 * tree stopped on request (SIGTERM, then SIGKILL after a grace period). Every live child is also stopped by
 * a shutdown hook of the executor's JVM; a child whose executor is SIGKILLed stops by itself (see
 * {@link RankMain}: it exits when its stdin, a pipe from this process, closes).
 */
final class RankProcess {
  private static final long GRACE_MILLIS = 3000;
  private static final int TAIL_LINES = 15;
  private static final Set<RankProcess> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(RankProcess::stop), "weft-spark-ranks-shutdown"));
  }

  private final Process process;
  private final List<Thread> pumps = new ArrayList<>();
  private final Deque<String> tail = new ArrayDeque<>();

  private RankProcess(Process process) {
    this.process = process;
  }

  /** Starts {@code command} with these variables added to the executor's environment. */
  static RankProcess start(List<String> command, Map<String, String> env, RankOutput out) throws IOException {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().putAll(env);
    // stdin stays a pipe that this JVM never closes: its end of file tells RankMain that we are gone.
    RankProcess rp = new RankProcess(pb.start());
    LIVE.add(rp);
    rp.pumps.add(rp.pump(rp.process.getInputStream(), false, out));
    rp.pumps.add(rp.pump(rp.process.getErrorStream(), true, out));
    return rp;
  }

  long pid() {
    return process.pid();
  }

  /** Waits up to {@code millis} for the process to exit; true when it has. */
  boolean waitFor(long millis) throws InterruptedException {
    return process.waitFor(millis, TimeUnit.MILLISECONDS);
  }

  /** The exit code, once the process has exited; waits up to 2 s for its output to drain first. */
  int exitCode() throws InterruptedException {
    int code = process.waitFor();
    for (Thread t : pumps) t.join(2000);
    LIVE.remove(this);
    return code;
  }

  /** The last lines the rank printed (stderr and stdout), oldest first. */
  String tail() {
    synchronized (tail) {
      return String.join("\n", tail);
    }
  }

  /** Stops the process and all its descendants: SIGTERM, and SIGKILL to whatever is alive after 3 s. */
  void stop() {
    List<ProcessHandle> tree = new ArrayList<>(process.descendants().toList());
    tree.add(process.toHandle());
    tree.forEach(ProcessHandle::destroy);
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GRACE_MILLIS);
    for (ProcessHandle h : tree) {
      while (h.isAlive() && System.nanoTime() < deadline) {
        try {
          h.onExit().get(20, TimeUnit.MILLISECONDS);
        } catch (Exception notYet) {
          // keep waiting until the deadline
        }
      }
      if (h.isAlive()) h.destroyForcibly();
    }
    LIVE.remove(this);
  }

  private Thread pump(InputStream in, boolean stderr, RankOutput out) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          if (!line.startsWith("WARNING: Using incubator modules")) {
            synchronized (tail) {
              if (tail.size() == TAIL_LINES) tail.removeFirst();
              tail.addLast(line);
            }
          }
          out.line(stderr, line);
        }
      } catch (IOException gone) {
        // the process has exited
      }
    }, "weft-spark-rank-" + (stderr ? "stderr" : "stdout"));
    t.setDaemon(true);
    t.start();
    return t;
  }
}
