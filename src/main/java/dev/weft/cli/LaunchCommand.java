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
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code weft launch}: starts the ranks of one node as child processes of this JVM's java and
 * classpath, each running a weft command with the variables torchrun sets (MASTER_ADDR, MASTER_PORT,
 * RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) and a job token (WEFT_JOB_TOKEN) that the tcp
 * backend presents on every connection. Each output line is prefixed with {@code [rank i] }; the one line
 * the JVM prints at start-up about the incubator module ({@link BootStderr#INCUBATOR_WARNING}) is dropped.
 * If a rank exits non-zero the others get 2 s to report and exit, are then stopped, and launch exits
 * naming the failed ranks: 2 when every rank that failed by itself exited 2 (bad input), 1 otherwise.
 * SIGINT/SIGTERM stop all children (shutdown hook).
 *
 * <p>Before starting anything it checks the command: a weft command that would not join the ranks into
 * one job (a {@code train} or {@code grads} without {@code --devices tcp}, or a command with no tcp
 * backend at all) would run as N independent copies of the whole job, so it is refused with the fix, as
 * is a layout whose device count differs from the job's WORLD_SIZE.
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
    if (mainClass.equals(Main.class.getName())) checkJoinsOneJob(command, worldSize);
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
        pumps.add(pump(p.getInputStream(), out, "[rank " + rank + "] ", false));
        pumps.add(pump(p.getErrorStream(), err, "[rank " + rank + "] ", true));
      }
      int failedRank = -1;
      int failedCode = 0;
      long failedAt = 0;
      boolean stopped = false;
      int running = children.size();
      boolean[] done = new boolean[children.size()];
      boolean[] stoppedByUs = new boolean[children.size()];
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
          for (int i = 0; i < children.size(); i++) stoppedByUs[i] = !done[i];
          stopAll(children);
        }
        if (running > 0) Thread.sleep(20);
      }
      for (Thread t : pumps) t.join(2000);
      if (failedRank >= 0) return reportFailure(children, stoppedByUs);
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

  /**
   * Names every rank that failed by itself (not stopped by launch) with its exit code; returns 2 when all
   * of them exited 2 (bad input: the message each printed says what to fix), 1 otherwise.
   */
  private int reportFailure(List<Process> children, boolean[] stoppedByUs) {
    StringBuilder failed = new StringBuilder();
    boolean allBadInput = true;
    int count = 0;
    for (int i = 0; i < children.size(); i++) {
      int code = children.get(i).exitValue();
      if (code == 0 || stoppedByUs[i]) continue;
      allBadInput &= code == 2;
      count++;
      if (!failed.isEmpty()) failed.append(", ");
      failed.append("rank ").append(nodeRank * nprocPerNode + i).append(" exited with code ").append(code)
          .append(code == 2 ? " (bad input)" : describeSignal(code));
    }
    err.println("weft launch: failed: " + failed + (count == 1 ? "" : " (" + count + " ranks)"));
    return allBadInput ? 2 : 1;
  }

  /**
   * Refuses, before any process starts, a weft command that would not make the ranks one job: a command
   * without a tcp backend, a train/grads without --devices tcp, or a layout of another size than the job.
   */
  static void checkJoinsOneJob(List<String> command, int worldSize) {
    String name = command.get(0);
    CommandLine root = Main.commandLine();
    CommandLine sub = root.getSubcommands().get(name);
    if (sub == null) {
      throw new WeftInputException("'" + name + "' after '--' is not a weft command; give the command each rank runs, "
          + "e.g. 'weft launch --nproc-per-node " + worldSize + " -- train --devices tcp --dp " + worldSize + "'.");
    }
    CommandLine.ParseResult parsed;
    try {
      parsed = root.parseArgs(command.toArray(String[]::new)).subcommand();
    } catch (CommandLine.ParameterException e) {
      throw new WeftInputException("the command after '--' is not valid: " + e.getMessage() + " (see 'weft " + name
          + " --help').");
    }
    if (parsed.isUsageHelpRequested() || parsed.isVersionHelpRequested() || parsed.subcommand() != null) return;
    String copies = "launching it would start " + worldSize + " independent copies of the whole run (each rank "
        + "alone, though RANK and WORLD_SIZE are set)";
    if (!sub.getCommandSpec().optionsMap().containsKey("--devices")) {
      throw new WeftInputException("'weft " + name + "' runs in one process and has no tcp backend, so " + copies
          + ". Run 'weft " + name + " ...' directly, without launch.");
    }
    String devices = parsed.matchedOptionValue("--devices", "local");
    if (!"tcp".equalsIgnoreCase(devices)) {
      throw new WeftInputException("'weft " + name + "' without --devices tcp keeps its ranks as threads of each "
          + "process, so " + copies + ". Add --devices tcp to make the processes the ranks of one job ('weft launch "
          + "--nproc-per-node " + worldSize + " -- " + name + " --devices tcp ...'), or drop launch and run the "
          + "ranks as threads: 'weft " + name + " " + String.join(" ", command.subList(1, command.size())) + "'.");
    }
    int layout = 1;
    for (String axis : new String[] {"--dp", "--tp", "--pp", "--cp"}) {
      if (sub.getCommandSpec().optionsMap().containsKey(axis)) layout *= parsed.matchedOptionValue(axis, 1);
    }
    if (layout != worldSize) {
      throw new WeftInputException("the layout of '" + name + "' (--dp x --tp x --pp x --cp) has " + layout + " device"
          + (layout == 1 ? "" : "s") + " but the job has " + worldSize + " ranks (--nnodes x --nproc-per-node); make "
          + "them equal, e.g. 'weft launch --nproc-per-node " + layout + " -- " + String.join(" ", command) + "'.");
    }
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

  /** Copies a child's lines to {@code to} with the prefix; on stderr without the JVM's incubator warning. */
  private static Thread pump(InputStream in, PrintStream to, String prefix, boolean stderr) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        String line;
        boolean dropWarning = stderr;
        while ((line = r.readLine()) != null) {
          if (dropWarning && line.equals(BootStderr.INCUBATOR_WARNING)) {
            dropWarning = false; // printed once, at start-up, before main
            continue;
          }
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
