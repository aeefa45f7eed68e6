package dev.weft.spark;

import java.io.IOException;
import java.io.Serializable;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.jar.JarFile;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.BarrierTaskInfo;
import org.apache.spark.TaskKilledException;
import scala.collection.Iterator;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;

/**
 * One rank of one attempt, as a barrier task: the function each partition of the barrier stage runs on its
 * executor. Partition i is rank i; the stage's task addresses give each rank its host, and so LOCAL_RANK and
 * LOCAL_WORLD_SIZE. Rank 0 picks a free port on its host for Weft's rendezvous; one {@code allGather} (the
 * attempt's only Spark rendezvous) shares it, together with every rank's result of checking the job's files
 * on its host, so that a missing file fails every rank with one message. Each task then starts its rank as a
 * child JVM ({@link RankMain} running Weft's command line) with the torchrun variables and the attempt's job
 * token, streams its output to the driver ({@link DriverLog}), polls Spark's kill flag (a task blocked in I/O
 * is never interrupted, so the task never blocks), stops the rank's process tree when Spark kills the task, and
 * fails when the rank exits non-zero, with the rank's last lines in the message.
 */
final class RankTask extends AbstractFunction1<Iterator<Integer>, Iterator<String>> implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final long POLL_MILLIS = 50;

  /** Everything an attempt's tasks need, made on the driver. */
  record Spec(int attempt, List<String> rankArgs, String mainClass, List<String> jvmArgs, List<String> extraClasspath,
              String jobToken, DriverLog.Endpoint log, List<RankArgs.PathCheck> paths) implements Serializable {}

  private final Spec spec;

  RankTask(Spec spec) {
    this.spec = spec;
  }

  @Override
  public Iterator<String> apply(Iterator<Integer> partition) {
    BarrierTaskContext ctx = BarrierTaskContext.get();
    return CollectionConverters.asScala(List.of(run(ctx)).iterator());
  }

  private String run(BarrierTaskContext ctx) {
    int rank = ctx.partitionId();
    String[] hosts = hosts(ctx.getTaskInfos());
    List<String> problems = checkHere(spec.paths());
    Path probe = problems.isEmpty() ? writeProbe(rank, hosts) : null;
    try {
      int port = rank == 0 ? freePort() : 0;
      String[] gathered = ctx.allGather(port + "\n" + String.join("\n", problems));
      String setupError = describeProblems(gathered, hosts);
      if (setupError == null && probe != null) setupError = unshared(probe.getParent(), rank, hosts);
      if (setupError != null) throw new RankFailure(RankFailure.Kind.SETUP, 2, setupError);
      int masterPort = Integer.parseInt(gathered[0].split("\n", 2)[0]);
      return runRank(ctx, rank, hosts, masterPort);
    } finally {
      if (probe != null) deleteQuietly(probe);
    }
  }

  private String runRank(BarrierTaskContext ctx, int rank, String[] hosts, int masterPort) {
    Map<String, String> env = environment(rank, hosts, masterPort, spec.jobToken());
    long t0 = System.nanoTime();
    try (DriverLog.Client out = new DriverLog.Client(spec.log(), rank)) {
      if (rank == 0) {
        out.line(false, "weft spark: attempt " + spec.attempt() + ", " + hosts.length + " ranks on " + placement(hosts)
            + "; rendezvous at " + hosts[0] + ":" + masterPort);
      }
      RankProcess child;
      try {
        child = RankProcess.start(command(), env, out);
      } catch (IOException e) {
        throw new RankFailure(RankFailure.Kind.START, 1, "rank " + rank + " on host " + hosts[rank]
            + " could not start its JVM (" + javaBinary() + "): " + e.getMessage());
      }
      try {
        while (!child.waitFor(POLL_MILLIS)) {
          if (ctx.isInterrupted() || Thread.currentThread().isInterrupted()) {
            child.stop();
            throw new TaskKilledException("Spark killed the task of rank " + rank + "; its process was stopped");
          }
        }
        int code = child.exitCode();
        if (code != 0) {
          String tail = child.tail();
          throw new RankFailure(RankFailure.Kind.EXIT, code, "rank " + rank + " on host " + hosts[rank] + " exited with code "
              + code + describeSignal(code) + (tail.isEmpty() ? "" : ", its last lines:\n" + tail));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new TaskKilledException("interrupted");
      } finally {
        child.stop();
      }
    }
    return String.format("rank %d on host %s: exit 0 after %.1f s", rank, hosts[rank], (System.nanoTime() - t0) / 1e9);
  }

  /** The host of every task's executor, in rank order (a task address is host:port). */
  static String[] hosts(BarrierTaskInfo[] infos) {
    String[] h = new String[infos.length];
    for (int i = 0; i < infos.length; i++) {
      String a = infos[i].address();
      int colon = a.lastIndexOf(':');
      h[i] = colon > 0 ? a.substring(0, colon) : a;
    }
    return h;
  }

  /** The torchrun variables for {@code rank} (ranks on one host are numbered in rank order) and the job token. */
  static Map<String, String> environment(int rank, String[] hosts, int masterPort, String token) {
    List<String> nodes = Arrays.stream(hosts).distinct().toList();
    int local = 0;
    int localWorld = 0;
    for (int r = 0; r < hosts.length; r++) {
      if (!hosts[r].equals(hosts[rank])) continue;
      if (r < rank) local++;
      localWorld++;
    }
    Map<String, String> env = new LinkedHashMap<>();
    env.put("MASTER_ADDR", hosts[0]);
    env.put("MASTER_PORT", Integer.toString(masterPort));
    env.put("RANK", Integer.toString(rank));
    env.put("WORLD_SIZE", Integer.toString(hosts.length));
    env.put("LOCAL_RANK", Integer.toString(local));
    env.put("LOCAL_WORLD_SIZE", Integer.toString(localWorld));
    env.put("GROUP_RANK", Integer.toString(nodes.indexOf(hosts[rank])));
    env.put("WEFT_JOB_TOKEN", token);
    return env;
  }

  /** "host a (ranks 0-1), host b (ranks 2-3)". */
  static String placement(String[] hosts) {
    Map<String, List<Integer>> by = new LinkedHashMap<>();
    for (int r = 0; r < hosts.length; r++) by.computeIfAbsent(hosts[r], k -> new ArrayList<>()).add(r);
    List<String> parts = new ArrayList<>();
    by.forEach((h, rs) -> parts.add("host " + h + " (" + ranks(rs) + ")"));
    return String.join(", ", parts);
  }

  /** Every rank's problems, grouped: null when there are none. */
  static String describeProblems(String[] gathered, String[] hosts) {
    Map<String, List<Integer>> byProblem = new LinkedHashMap<>();
    for (int r = 0; r < gathered.length; r++) {
      String[] lines = gathered[r].split("\n");
      for (int i = 1; i < lines.length; i++) {
        if (!lines[i].isBlank()) byProblem.computeIfAbsent(lines[i], k -> new ArrayList<>()).add(r);
      }
    }
    if (byProblem.isEmpty()) return null;
    List<String> parts = new ArrayList<>();
    byProblem.forEach((p, rs) -> {
      TreeSet<String> hs = new TreeSet<>();
      for (int r : rs) hs.add(hosts[r]);
      parts.add(p + " on executor host" + (hs.size() > 1 ? "s " : " ") + String.join(", ", hs) + " (" + ranks(rs) + ")");
    });
    return String.join("; ", parts) + ". Every executor must see the job's files at the same absolute path: put the"
        + " data and the checkpoints on a filesystem that every executor host mounts (NFS, a shared volume), not on"
        + " the driver's disk.";
  }

  /** "rank 3", "ranks 0-3", "ranks 0, 2". */
  static String ranks(List<Integer> rs) {
    if (rs.size() == 1) return "rank " + rs.get(0);
    boolean consecutive = rs.get(rs.size() - 1) - rs.get(0) == rs.size() - 1;
    if (consecutive) return "ranks " + rs.get(0) + "-" + rs.get(rs.size() - 1);
    return "ranks " + String.join(", ", rs.stream().map(String::valueOf).toList());
  }

  /**
   * With ranks on several hosts, every task leaves a probe file beside the checkpoint folder (--save) before the
   * rendezvous, and looks for the other hosts' probes after it: a folder on each host's own disk passes the checks
   * of every host alone, but a restart placed on other hosts would not find its checkpoints. Null when there is
   * nothing to probe (no --save, or one host).
   */
  private Path writeProbe(int rank, String[] hosts) {
    if (Arrays.stream(hosts).distinct().count() < 2) return null;
    for (RankArgs.PathCheck c : spec.paths()) {
      if (!c.option().equals("--save")) continue;
      Path folder = Path.of(c.path()).toAbsolutePath().getParent();
      try {
        Files.createDirectories(folder);
        return Files.writeString(folder.resolve(probeName(spec.jobToken(), rank)), hosts[rank]);
      } catch (IOException e) {
        return null; // the checks said it is writable; Weft will report what went wrong
      }
    }
    return null;
  }

  static String probeName(String token, int rank) {
    return ".weft-spark-probe-" + token.substring(0, Math.min(12, token.length())) + "-" + rank;
  }

  /** The probes of ranks on other hosts that {@code folder} does not show, as a message; null when it shows them all. */
  String unshared(Path folder, int rank, String[] hosts) {
    List<Integer> unseen = new ArrayList<>();
    for (int r = 0; r < hosts.length; r++) {
      if (!hosts[r].equals(hosts[rank]) && !Files.exists(folder.resolve(probeName(spec.jobToken(), r)))) unseen.add(r);
    }
    if (unseen.isEmpty()) return null;
    String save = spec.paths().stream().filter(c -> c.option().equals("--save")).findFirst().map(RankArgs.PathCheck::path).orElse("?");
    return "--save " + save + " is not on a filesystem the executors share: rank " + rank + " on host " + hosts[rank]
        + " does not see the files that " + ranks(unseen) + " on host" + (unseen.stream().map(r -> hosts[r]).distinct().count() > 1
        ? "s " : " ") + String.join(", ", unseen.stream().map(r -> hosts[r]).distinct().toList()) + " wrote in " + folder
        + ", so a restart on other hosts would not find the checkpoints. Put --save on a filesystem that every executor"
        + " host mounts at the same path (NFS, a shared volume).";
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // a stray probe file is harmless
    }
  }

  /** The files this host cannot read (inputs) or create (outputs). */
  static List<String> checkHere(List<RankArgs.PathCheck> checks) {
    List<String> problems = new ArrayList<>();
    for (RankArgs.PathCheck c : checks) {
      Path p = Path.of(c.path());
      if (!c.output()) {
        if (!Files.exists(p)) problems.add(c.option() + " " + c.path() + " does not exist");
        else if (!Files.isReadable(p)) problems.add(c.option() + " " + c.path() + " is not readable");
        continue;
      }
      // The ranks create the file or folder, and checkpoints are written beside it and renamed into place:
      // the nearest folder on its way that exists must be writable.
      Path folder = p.toAbsolutePath().getParent();
      while (folder != null && !Files.exists(folder)) folder = folder.getParent();
      if (folder == null || !Files.isDirectory(folder)) {
        problems.add(c.option() + " " + c.path() + " cannot be created (no folder on its way exists)");
      } else if (!Files.isWritable(folder)) {
        problems.add(c.option() + " " + c.path() + " cannot be written (" + folder + " is not writable)");
      }
    }
    return problems;
  }

  private List<String> command() {
    List<String> cmd = new ArrayList<>();
    cmd.add(javaBinary());
    cmd.add("--add-modules");
    cmd.add("jdk.incubator.vector");
    cmd.add("--enable-native-access=ALL-UNNAMED"); // as ./weft and weft launch: OpenBLAS through JavaCPP loads native code
    cmd.addAll(spec.jvmArgs());
    cmd.add("-cp");
    cmd.add(String.join(java.io.File.pathSeparator, classpath(spec.extraClasspath())));
    cmd.add(RankMain.class.getName());
    cmd.add(spec.mainClass());
    cmd.addAll(spec.rankArgs());
    return cmd;
  }

  private static String javaBinary() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /**
   * The rank's class path: the jar this class came from when it holds Weft and its dependencies (the module's
   * jar, as spark-submit ships it to every executor); otherwise (classes in a folder, as in an IDE) that entry
   * followed by this JVM's class path. Then {@code extra}.
   */
  static List<String> classpath(List<String> extra) {
    List<String> cp = new ArrayList<>();
    Path own;
    try {
      own = Path.of(RankTask.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException("cannot locate weft-spark's classes", e);
    }
    cp.add(own.toString());
    if (!isSelfContained(own)) cp.addAll(Arrays.asList(System.getProperty("java.class.path").split(java.io.File.pathSeparator)));
    cp.addAll(extra);
    return cp;
  }

  private static boolean isSelfContained(Path jar) {
    if (!Files.isRegularFile(jar)) return false;
    try (JarFile j = new JarFile(jar.toFile())) {
      return j.getEntry("dev/weft/cli/Main.class") != null && j.getEntry("picocli/CommandLine.class") != null;
    } catch (IOException e) {
      return false;
    }
  }

  private static int freePort() {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(0));
      return s.getLocalPort();
    } catch (IOException e) {
      throw new RankFailure(RankFailure.Kind.START, 1, "rank 0 found no free port for the rendezvous: " + e.getMessage());
    }
  }

  private static String describeSignal(int code) {
    return code > 128 && code < 160 ? " (killed by signal " + (code - 128) + ")" : "";
  }
}
