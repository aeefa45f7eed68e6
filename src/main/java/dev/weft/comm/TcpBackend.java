package dev.weft.comm;

import dev.weft.WeftInputException;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The multi-process backend: every rank is a process and ranks talk over a full mesh of plain TCP
 * sockets (TCP_NODELAY, 4 MiB buffers), set up from the variables torchrun uses.
 *
 * <p>Rendezvous: rank 0 listens on MASTER_ADDR:MASTER_PORT; every other rank connects to it (retrying
 * until the timeout), presents the job token (WEFT_JOB_TOKEN) and its own listening address; once all
 * ranks are in, rank 0 sends everyone the table of addresses. Then rank i connects to every rank j < i,
 * again presenting the token. A wrong token is refused with a message saying so, and the listener
 * keeps waiting for the right process. Sub-communicators reuse the world's connections; each frame
 * carries its group's id so that groups never mix.
 *
 * <p>Same host: at the rendezvous every rank also reports its {@link #hostId} (host name plus boot
 * id) and rank 0 hands out a random job nonce with the table. With {@link Transport#AUTO}, a group
 * whose members all share this rank's host id moves its collectives through a shared-memory segment
 * ({@link ShmGroup}, a file in /dev/shm named from the token's hash, the nonce and the group id);
 * groups with a remote member, send/recv, and all failure detection stay on the sockets.
 */
public final class TcpBackend implements Backend {
  private static final int SOCKET_BUFFER = 4 << 20;

  /**
   * How ranks on the same host exchange collective data. AUTO: through shared memory when every
   * member of a group is on this host (sockets otherwise, and always for send/recv, the rendezvous and
   * failure detection). SOCKET: sockets only.
   */
  public enum Transport {
    AUTO, SOCKET;

    /** "auto" or "socket" (case-insensitive); anything else is a user error. */
    public static Transport parse(String s) {
      for (Transport t : values()) if (t.name().equalsIgnoreCase(s.trim())) return t;
      throw new WeftInputException("Unknown transport '" + s + "': use auto (shared memory between ranks on one host)"
          + " or socket.");
    }
  }

  /** Where this rank is and how to find the others, and which transport same-host peers use. */
  public record Config(int rank, int worldSize, String masterAddr, int masterPort, String token, Duration timeout,
                       Transport transport) {
    /** The default transport: AUTO. */
    public Config(int rank, int worldSize, String masterAddr, int masterPort, String token, Duration timeout) {
      this(rank, worldSize, masterAddr, masterPort, token, timeout, Transport.AUTO);
    }

    public Config {
      if (transport == null) throw new NullPointerException("transport");
    }

    /** This configuration with another transport. */
    public Config withTransport(Transport t) {
      return new Config(rank, worldSize, masterAddr, masterPort, token, timeout, t);
    }

    /**
     * Reads MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, WEFT_JOB_TOKEN and WEFT_TRANSPORT (auto, the default,
     * or socket: for hosts whose /dev/shm is missing or small, as NCCL_SHM_DISABLE; every rank must agree);
     * bad or missing values are user errors.
     */
    public static Config fromEnv(Map<String, String> env, Duration timeout) {
      int worldSize = intVar(env, "WORLD_SIZE", 1);
      int rank = intVar(env, "RANK", 0);
      if (worldSize < 1 || rank < 0 || rank >= worldSize) {
        throw new WeftInputException("RANK=" + rank + " and WORLD_SIZE=" + worldSize
            + " are inconsistent: need 0 <= RANK < WORLD_SIZE. Start ranks with 'weft launch', which sets them.");
      }
      String addr = env.getOrDefault("MASTER_ADDR", "127.0.0.1");
      int port = intVar(env, "MASTER_PORT", 29500);
      if (port < 1 || port > 65535) throw new WeftInputException("MASTER_PORT=" + port + " is not a TCP port (1-65535).");
      String token = env.get("WEFT_JOB_TOKEN");
      if (token == null || token.isEmpty()) {
        throw new WeftInputException("WEFT_JOB_TOKEN is not set: every rank of a tcp job must present the same job token."
            + " Start the ranks with 'weft launch', which sets it, or export the same random value on every rank.");
      }
      String transport = env.get("WEFT_TRANSPORT");
      Transport t;
      try {
        t = transport == null || transport.isBlank() ? Transport.AUTO : Transport.parse(transport);
      } catch (WeftInputException e) {
        throw new WeftInputException("WEFT_TRANSPORT='" + transport + "' is not a transport: use auto (shared memory "
            + "between ranks on one host, the default) or socket.");
      }
      return new Config(rank, worldSize, addr, port, token, timeout, t);
    }

    private static int intVar(Map<String, String> env, String name, int dflt) {
      String v = env.get(name);
      if (v == null || v.isBlank()) return dflt;
      try {
        return Integer.parseInt(v.trim());
      } catch (NumberFormatException e) {
        throw new WeftInputException("Environment variable " + name + "='" + v + "' is not an integer.");
      }
    }
  }

  private final Config cfg;
  private final TcpPeer[] peers;
  /** Every rank's host id (see {@link #hostId}), from the rendezvous. */
  private final String[] hostIds;
  /** A random number rank 0 draws for this job instance: shared-memory names never collide across runs. */
  private long jobNonce;
  private final int shmSlotBytes;
  private final Map<String, Integer> created = new HashMap<>();
  private final Map<Long, String> groupKeys = new HashMap<>();
  private final List<Communicator> communicators = new ArrayList<>();
  private volatile String failure;
  private volatile int failedPeer = -1;

  private TcpBackend(Config cfg, int shmSlotBytes) {
    this.cfg = cfg;
    this.peers = new TcpPeer[cfg.worldSize()];
    this.hostIds = new String[cfg.worldSize()];
    this.shmSlotBytes = shmSlotBytes;
  }

  /** Joins the job described by {@code cfg}: rendezvous, then the full mesh. */
  public static TcpBackend connect(Config cfg) {
    return connect(cfg, ShmGroup.DEFAULT_SLOT_BYTES);
  }

  /** As {@link #connect(Config)}, with the shared-memory slot size (bytes per rank and buffer) given: for tests. */
  static TcpBackend connect(Config cfg, int shmSlotBytes) {
    TcpBackend b = new TcpBackend(cfg, shmSlotBytes);
    try {
      b.setUp();
    } catch (IOException e) {
      b.close();
      throw new CommException("tcp rendezvous of rank " + cfg.rank() + " of " + cfg.worldSize() + " via "
          + cfg.masterAddr() + ":" + cfg.masterPort() + " failed: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
    return b;
  }

  @Override public int rank() { return cfg.rank(); }
  @Override public int worldSize() { return cfg.worldSize(); }
  @Override public String name() { return "tcp"; }
  Duration timeout() { return cfg.timeout(); }

  TcpPeer peer(int globalRank) {
    return peers[globalRank];
  }

  @Override
  public synchronized Communicator group(int... globalRanks) {
    AbstractCommunicator.checkGroup(globalRanks, rank(), worldSize());
    String members = Arrays.toString(globalRanks);
    int instance = created.merge(members, 1, Integer::sum) - 1;
    String key = members + "#" + instance;
    long id = TcpWire.groupId(key);
    String clash = groupKeys.putIfAbsent(id, key);
    if (clash != null) throw new IllegalStateException("group id collision between " + clash + " and " + key);
    ShmGroup shm = null;
    if (cfg.transport() == Transport.AUTO && globalRanks.length > 1 && allOnThisHost(globalRanks)) {
      shm = new ShmGroup(this, globalRanks, id, shmSlotBytes);
    }
    Communicator c = new TcpCommunicator(this, globalRanks, id, shm);
    communicators.add(c);
    return c;
  }

  /** True when every rank of the list reported this rank's host id at the rendezvous. */
  boolean allOnThisHost(int[] globalRanks) {
    for (int r : globalRanks) if (!hostIds[r].equals(hostIds[rank()])) return false;
    return true;
  }

  /** The transport the communicator for this group uses: "shm" or "socket". */
  public String transportOf(int... globalRanks) {
    return cfg.transport() == Transport.AUTO && globalRanks.length > 1 && allOnThisHost(globalRanks) ? "shm" : "socket";
  }

  @Override
  public String describeTransport(int... globalRanks) {
    return "tcp, " + (transportOf(globalRanks).equals("shm") ? "shared memory" : "sockets");
  }

  /** The job's shared-memory file names start with this (the job token's hash and the run's nonce). */
  String shmPrefix() {
    return "weft-" + Long.toHexString(TcpWire.groupId("token:" + cfg.token())) + "-" + Long.toHexString(jobNonce) + "-";
  }

  /** Why the connection to a global rank ended, or null while it is up (and for this rank). */
  String peerGone(int globalRank) {
    TcpPeer p = peers[globalRank];
    return p == null ? null : p.goneReason();
  }

  /**
   * This machine's identity for same-host detection: the host name plus the kernel's boot id
   * (/proc/sys/kernel/random/boot_id, when present), so two machines that share a name (or two
   * containers sharing a hostname but not a kernel) are told apart.
   */
  static String hostId() {
    String host;
    try {
      java.nio.file.Path hn = java.nio.file.Path.of("/proc/sys/kernel/hostname");
      host = java.nio.file.Files.exists(hn) ? java.nio.file.Files.readString(hn).trim() : InetAddress.getLocalHost().getHostName();
    } catch (IOException | RuntimeException e) {
      host = "unknown-host";
    }
    String boot = "";
    try {
      java.nio.file.Path b = java.nio.file.Path.of("/proc/sys/kernel/random/boot_id");
      if (java.nio.file.Files.exists(b)) boot = java.nio.file.Files.readString(b).trim();
    } catch (IOException | RuntimeException e) {
      // no boot id: the host name alone
    }
    return host + "/" + boot;
  }

  /** Records the first fatal failure (a peer died or sent garbage); every wait then fails fast. */
  void fail(int peer, String reason) {
    synchronized (this) {
      if (failure != null) return;
      failedPeer = peer;
      failure = reason;
    }
  }

  void checkFailure() {
    String f = failure;
    if (f != null) throw new TransportException(failedPeer, f);
  }

  /**
   * Records why this rank is stopping, unless a failure is recorded already: the peer a
   * {@link TransportException} in {@code t}'s causes names, else this rank itself. {@link #close} then
   * tells every peer, so that they all report the rank that failed first.
   */
  public void noteFailure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TransportException te && te.peer() >= 0) {
        fail(te.peer(), te.getMessage());
        return;
      }
    }
    String what = t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
    fail(rank(), "global rank " + rank() + " failed: " + what);
  }

  /** Closes every connection: with a goodbye after a clean run, with an abort naming the failed rank after a failure. */
  @Override
  public synchronized void close() {
    communicators.forEach(Communicator::close); // also unmaps and deletes this rank's shared-memory files
    communicators.clear();
    String why;
    int culprit;
    synchronized (this) {
      why = failure;
      culprit = failedPeer;
    }
    for (TcpPeer p : peers) {
      if (p == null) continue;
      if (why != null) p.abort(culprit, why);
      else p.close();
    }
  }

  // ---- set-up ----------------------------------------------------------------------------------

  private void setUp() throws IOException {
    hostIds[cfg.rank()] = hostId();
    if (cfg.worldSize() == 1) return;
    long deadline = System.nanoTime() + cfg.timeout().toNanos();
    InetAddress bindAddr = bindAddress();
    try (ServerSocketChannel listener = ServerSocketChannel.open()) {
      listener.bind(new InetSocketAddress(bindAddr, 0), cfg.worldSize());
      int myPort = ((InetSocketAddress) listener.getLocalAddress()).getPort();
      InetSocketAddress[] table = cfg.rank() == 0 ? serveRendezvous(bindAddr, myPort, deadline) : joinRendezvous(myPort, deadline);
      // Connect to every lower rank; accept every higher one.
      for (int j = 0; j < cfg.rank(); j++) {
        SocketChannel ch = connectWithRetry(table[j], deadline, "global rank " + j);
        handshakeOut(ch, "global rank " + j);
        peers[j] = new TcpPeer(j, ch, this);
      }
      int expected = cfg.worldSize() - 1 - cfg.rank();
      while (expected > 0) {
        SocketChannel ch = accept(listener, deadline, "the mesh connections of higher ranks");
        int r = handshakeIn(ch);
        if (r < 0) continue;
        if (r <= cfg.rank() || peers[r] != null) {
          ch.close();
          throw new IOException("unexpected mesh connection from rank " + r);
        }
        peers[r] = new TcpPeer(r, ch, this);
        expected--;
      }
    }
    for (TcpPeer p : peers) if (p != null) p.start();
  }

  private InetAddress bindAddress() throws IOException {
    InetAddress master = InetAddress.getByName(cfg.masterAddr());
    return master.isLoopbackAddress() ? master : InetAddress.getByName("0.0.0.0");
  }

  /** Rank 0: collect every rank's listening address, then send each the full table. */
  private InetSocketAddress[] serveRendezvous(InetAddress bindAddr, int myPort, long deadline) throws IOException {
    InetSocketAddress[] table = new InetSocketAddress[cfg.worldSize()];
    table[0] = new InetSocketAddress(bindAddr.isAnyLocalAddress() ? InetAddress.getLocalHost() : bindAddr, myPort);
    SocketChannel[] joined = new SocketChannel[cfg.worldSize()];
    try (ServerSocketChannel master = ServerSocketChannel.open()) {
      master.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      master.bind(new InetSocketAddress(bindAddr, cfg.masterPort()), cfg.worldSize());
      int missing = cfg.worldSize() - 1;
      while (missing > 0) {
        SocketChannel ch = accept(master, deadline, (missing) + " more rank(s) to join the rendezvous on port " + cfg.masterPort());
        int r = handshakeIn(ch);
        if (r < 0) continue;
        if (r == 0 || joined[r] != null) {
          refuseLate(ch, "rank " + r + " joined twice");
          continue;
        }
        DataInputStream in = new DataInputStream(ch.socket().getInputStream());
        String host = TcpWire.readText(in);
        int port = in.readInt();
        hostIds[r] = TcpWire.readText(in);
        table[r] = new InetSocketAddress(host, port);
        joined[r] = ch;
        missing--;
      }
      jobNonce = new java.security.SecureRandom().nextLong();
      for (int r = 1; r < cfg.worldSize(); r++) {
        DataOutputStream out = new DataOutputStream(joined[r].socket().getOutputStream());
        out.writeLong(jobNonce);
        for (int q = 0; q < table.length; q++) {
          TcpWire.writeText(out, table[q].getHostString());
          out.writeInt(table[q].getPort());
          TcpWire.writeText(out, hostIds[q]);
        }
        out.flush();
      }
    } finally {
      for (SocketChannel ch : joined) if (ch != null) ch.close();
    }
    return table;
  }

  /** Ranks above 0: register with rank 0 and receive the table. */
  private InetSocketAddress[] joinRendezvous(int myPort, long deadline) throws IOException {
    InetSocketAddress master = new InetSocketAddress(cfg.masterAddr(), cfg.masterPort());
    try (SocketChannel ch = connectWithRetry(master, deadline, "rank 0 (the rendezvous)")) {
      handshakeOut(ch, "rank 0 (the rendezvous at " + cfg.masterAddr() + ":" + cfg.masterPort() + ")");
      DataOutputStream out = new DataOutputStream(ch.socket().getOutputStream());
      TcpWire.writeText(out, ((InetSocketAddress) ch.getLocalAddress()).getAddress().getHostAddress());
      out.writeInt(myPort);
      TcpWire.writeText(out, hostIds[cfg.rank()]);
      out.flush();
      DataInputStream in = new DataInputStream(ch.socket().getInputStream());
      ch.socket().setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
      InetSocketAddress[] table = new InetSocketAddress[cfg.worldSize()];
      try {
        jobNonce = in.readLong();
        for (int r = 0; r < table.length; r++) {
          String host = TcpWire.readText(in);
          table[r] = new InetSocketAddress(host, in.readInt());
          String id = TcpWire.readText(in);
          if (r != cfg.rank()) hostIds[r] = id;
        }
      } catch (SocketTimeoutException e) {
        throw new IOException("timed out after " + cfg.timeout().toSeconds() + " s waiting for all ranks to join", e);
      }
      return table;
    }
  }

  private void handshakeOut(SocketChannel ch, String who) throws IOException {
    ch.socket().setSoTimeout((int) cfg.timeout().toMillis());
    TcpWire.writeHello(new DataOutputStream(ch.socket().getOutputStream()), cfg.token(), cfg.rank(), cfg.worldSize());
    try {
      TcpWire.readStatus(new DataInputStream(ch.socket().getInputStream()), who);
    } catch (TcpWire.RefusedException e) {
      ch.close();
      throw new WeftInputException("Rank " + cfg.rank() + " could not join the job: " + e.getMessage() + ".", e);
    }
  }

  /** Reads a hello; returns the peer's rank, or -1 after refusing it (the caller keeps listening). */
  private int handshakeIn(SocketChannel ch) throws IOException {
    ch.socket().setSoTimeout((int) Math.min(cfg.timeout().toMillis(), 10_000));
    DataOutputStream out = new DataOutputStream(ch.socket().getOutputStream());
    try {
      int r = TcpWire.readHello(new DataInputStream(ch.socket().getInputStream()), cfg.token(), cfg.worldSize());
      TcpWire.writeStatus(out, null);
      return r;
    } catch (TcpWire.RefusedException e) {
      System.err.println("weft tcp rank " + cfg.rank() + ": refused a connection from " + ch.getRemoteAddress() + ": " + e.getMessage());
      refuseLate(ch, e.getMessage());
      return -1;
    } catch (IOException e) {
      System.err.println("weft tcp rank " + cfg.rank() + ": dropped a connection from " + ch.getRemoteAddress() + ": " + e);
      ch.close();
      return -1;
    }
  }

  private static void refuseLate(SocketChannel ch, String reason) {
    try (ch) {
      TcpWire.writeStatus(new DataOutputStream(ch.socket().getOutputStream()), reason);
    } catch (IOException ignored) {
      // the other side is gone
    }
  }

  private SocketChannel accept(ServerSocketChannel server, long deadline, String what) throws IOException {
    server.socket().setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
    try {
      SocketChannel ch = server.socket().accept().getChannel();
      tune(ch);
      return ch;
    } catch (SocketTimeoutException e) {
      throw new IOException("timed out after " + cfg.timeout().toSeconds() + " s waiting for " + what, e);
    }
  }

  private SocketChannel connectWithRetry(InetSocketAddress addr, long deadline, String who) throws IOException {
    IOException last = null;
    while (System.nanoTime() - deadline < 0) {
      SocketChannel ch = SocketChannel.open();
      try {
        tune(ch);
        ch.socket().connect(addr, (int) Math.max(1, Math.min(2000, (deadline - System.nanoTime()) / 1_000_000)));
        return ch;
      } catch (IOException e) {
        ch.close();
        last = e;
        try {
          Thread.sleep(50);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while connecting to " + who, ie);
        }
      }
    }
    throw new IOException("could not connect to " + who + " at " + addr + " within " + cfg.timeout().toSeconds() + " s"
        + (last == null ? "" : ": " + last.getMessage()), last);
  }

  private static void tune(SocketChannel ch) throws IOException {
    ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
    ch.setOption(StandardSocketOptions.SO_SNDBUF, SOCKET_BUFFER);
    ch.setOption(StandardSocketOptions.SO_RCVBUF, SOCKET_BUFFER);
  }
}
