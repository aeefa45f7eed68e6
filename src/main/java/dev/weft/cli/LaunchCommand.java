package dev.weft.cli;

import dev.weft.WeftInputException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code weft launch}: starts the ranks of one node as child processes of this JVM's java and
 * classpath, each running a weft command with the variables torchrun sets (MASTER_ADDR, MASTER_PORT,
 * RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) and a job token (WEFT_JOB_TOKEN) that the tcp
 * backend presents on every connection. Each output line is prefixed with {@code [rank i] }. If a
 * rank exits non-zero the others get 2 s to report and exit, are then stopped, and launch exits 1
 * naming that rank; SIGINT/SIGTERM stop all children (shutdown hook).
 */
@Command(name = "launch", mixinStandardHelpOptions = true,
    description = "Start ranks of a weft command as processes on this node (tcp backend), e.g. "
        + "'weft launch --nproc-per-node 4 -- train --dp 4 --devices tcp'.")
public final class LaunchCommand implements Callable<Integer> {
  /** How long the other ranks get to exit on their own after one has failed. */
  private static final long GRACE_NANOS = 2_000_000_000L;

  @Option(names = "--nproc-per-node", required = true, description = "Ranks (processes) to start on this node.")
  int nprocPerNode;

  @Option(names = "--nnodes", defaultValue = "1", description = "Number of nodes in the job (default 1).")
  int nnodes;

  @Option(names = "--node-rank", defaultValue = "0", description = "This node's index in [0, nnodes).")
  int nodeRank;

  @Option(names = "--master-addr", defaultValue = "127.0.0.1", description = "Address of the node running rank 0.")
  String masterAddr;

  @Option(names = "--master-port", defaultValue = "0",
      description = "Rendezvous port on the master; default: a free port (one node) or 29500 (several nodes).")
  int masterPort;

  @Option(names = "--main-class", hidden = true, defaultValue = "dev.weft.cli.Main",
      description = "Main class the ranks run (tests substitute their own).")
  String mainClass;

  @Option(names = "--jvm-arg", hidden = true, description = "Extra JVM flag for every rank (repeatable).")
  List<String> jvmArgs = new ArrayList<>();

  @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "The weft command each rank runs, after '--'.")
  List<String> command = new ArrayList<>();

  private final PrintStream out;
  private final PrintStream err;
  private final Map<String, String> env;

  public LaunchCommand() {
    this(System.out, System.err, System.getenv());
  }

  /** For tests: where the ranks' output goes, and the environment to read WEFT_JOB_TOKEN from. */
  public LaunchCommand(PrintStream out, PrintStream err, Map<String, String> env) {
    this.out = out;
    this.err = err;
    this.env = env;
  }

  @Override
  public Integer call() throws Exception {
    validate();
    int worldSize = nnodes * nprocPerNode;
    int port = masterPort != 0 ? masterPort : nnodes == 1 ? freePort() : 29500;
    String token = jobToken();
    List<Process> children = new ArrayList<>();
    List<Thread> pumps = new ArrayList<>();
    Thread hook = new Thread(() -> stopAll(children), "weft-launch-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      for (int local = 0; local < nprocPerNode; local++) {
        int rank = nodeRank * nprocPerNode + local;
        ProcessBuilder pb = new ProcessBuilder(childCommand());
        Map<String, String> e = pb.environment();
        e.put("MASTER_ADDR", masterAddr);
        e.put("MASTER_PORT", Integer.toString(port));
        e.put("RANK", Integer.toString(rank));
        e.put("WORLD_SIZE", Integer.toString(worldSize));
        e.put("LOCAL_RANK", Integer.toString(local));
        e.put("LOCAL_WORLD_SIZE", Integer.toString(nprocPerNode));
        e.put("GROUP_RANK", Integer.toString(nodeRank));
        e.put("WEFT_JOB_TOKEN", token);
        Process p = pb.start();
        synchronized (children) {
          children.add(p);
        }
        pumps.add(pump(p.getInputStream(), out, "[rank " + rank + "] "));
        pumps.add(pump(p.getErrorStream(), err, "[rank " + rank + "] "));
      }
      int failedRank = -1;
      int failedCode = 0;
      long failedAt = 0;
      boolean stopped = false;
      int running = children.size();
      boolean[] done = new boolean[children.size()];
      while (running > 0) {
        // Among ranks found dead in the same check, blame the one a signal killed (the others most likely
        // exited because they lost it), else the lowest rank.
        int blame = -1;
        for (int i = 0; i < children.size(); i++) {
          if (done[i]) continue;
          Process p = children.get(i);
          if (p.isAlive()) continue;
          done[i] = true;
          running--;
          int code = p.exitValue();
          if (code != 0 && failedRank < 0
              && (blame < 0 || (code > 128 && children.get(blame).exitValue() <= 128))) {
            blame = i;
          }
        }
        if (blame >= 0) {
          failedRank = nodeRank * nprocPerNode + blame;
          failedCode = children.get(blame).exitValue();
          failedAt = System.nanoTime();
          err.println("weft launch: rank " + failedRank + " exited with code " + failedCode + describeSignal(failedCode)
              + "; stopping the other ranks");
        }
        // Give the others a moment to notice and report the failure themselves, then stop them.
        if (failedRank >= 0 && !stopped && System.nanoTime() - failedAt > GRACE_NANOS) {
          stopped = true;
          stopAll(children);
        }
        if (running > 0) Thread.sleep(20);
      }
      for (Thread t : pumps) t.join(2000);
      if (failedRank >= 0) {
        err.println("weft launch: failed: rank " + failedRank + " exited with code " + failedCode + describeSignal(failedCode));
        return 1;
      }
      return 0;
    } finally {
      stopAll(children);
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running already
      }
    }
  }

  private void validate() {
    if (nprocPerNode < 1) throw new WeftInputException("--nproc-per-node must be at least 1, got " + nprocPerNode + ".");
    if (nnodes < 1) throw new WeftInputException("--nnodes must be at least 1, got " + nnodes + ".");
    if (nodeRank < 0 || nodeRank >= nnodes) {
      throw new WeftInputException("--node-rank " + nodeRank + " must be in [0, --nnodes) = [0, " + nnodes + ").");
    }
    if (masterPort < 0 || masterPort > 65535) throw new WeftInputException("--master-port " + masterPort + " is not a TCP port.");
    if (command.isEmpty()) throw new WeftInputException("Give the command the ranks run after '--', e.g. 'weft launch --nproc-per-node 2 -- train'.");
  }

  private String jobToken() {
    String given = env.get("WEFT_JOB_TOKEN");
    if (given != null && !given.isEmpty()) return given;
    if (nnodes > 1) {
      throw new WeftInputException("With --nnodes > 1, every node must use the same job token: export the same random"
          + " WEFT_JOB_TOKEN on every node before 'weft launch' (e.g. WEFT_JOB_TOKEN=$(openssl rand -hex 16)).");
    }
    byte[] b = new byte[16];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private List<String> childCommand() {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--add-modules");
    cmd.add("jdk.incubator.vector");
    cmd.add("--enable-native-access=ALL-UNNAMED"); // as ./weft: OpenBLAS through JavaCPP loads native code
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(command);
    return cmd;
  }

  private static String describeSignal(int code) {
    return code > 128 && code < 160 ? " (killed by signal " + (code - 128) + ")" : "";
  }

  private static Thread pump(InputStream in, PrintStream to, String prefix) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          synchronized (to) {
            to.println(prefix + line);
          }
        }
      } catch (IOException ignored) {
        // the child is gone
      }
    }, "weft-launch-pump");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Asks every live child to stop (SIGTERM), then kills those still alive after 3 s. */
  private static void stopAll(List<Process> children) {
    List<Process> live;
    synchronized (children) {
      live = children.stream().filter(Process::isAlive).toList();
    }
    live.forEach(Process::destroy);
    long deadline = System.nanoTime() + 3_000_000_000L;
    for (Process p : live) {
      try {
        while (p.isAlive() && System.nanoTime() < deadline) Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      if (p.isAlive()) p.destroyForcibly();
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
