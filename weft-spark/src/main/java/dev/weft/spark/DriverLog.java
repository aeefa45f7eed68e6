package dev.weft.spark;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The ranks' output, streamed from the executors to the driver's console with each line prefixed
 * {@code [rank i] } (as {@code weft launch} prints it), stdout to the driver's stdout and stderr to its
 * stderr. The driver listens on a free port for one attempt; every task connects, presents the attempt's
 * secret and its rank, then sends one line per line its rank printed. A task that cannot reach the driver
 * (a firewall between executors and driver) prints the same prefixed lines to its executor's stdout and
 * stderr instead, which Spark keeps in the executor's log, and says so there once.
 */
final class DriverLog implements AutoCloseable {
  /** Where tasks send their lines, and the secret they present. */
  record Endpoint(String host, int port, String secret) implements Serializable {}

  private final ServerSocket server;
  private final Endpoint endpoint;
  private final PrintStream out;
  private final PrintStream err;
  private final List<Thread> readers = new ArrayList<>();
  private final Thread acceptor;

  private DriverLog(ServerSocket server, Endpoint endpoint, PrintStream out, PrintStream err) {
    this.server = server;
    this.endpoint = endpoint;
    this.out = out;
    this.err = err;
    this.acceptor = new Thread(this::acceptLoop, "weft-spark-driver-log");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Listens on every interface of the driver; tasks reach it at {@code driverHost}. */
  static DriverLog open(String driverHost, String secret, PrintStream out, PrintStream err) throws IOException {
    ServerSocket s = new ServerSocket();
    s.bind(new InetSocketAddress(0), 64);
    return new DriverLog(s, new Endpoint(driverHost, s.getLocalPort(), secret), out, err);
  }

  Endpoint endpoint() {
    return endpoint;
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        Thread t = new Thread(() -> read(s), "weft-spark-driver-log-reader");
        t.setDaemon(true);
        synchronized (readers) {
          readers.add(t);
        }
        t.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  private void read(Socket s) {
    try (s; BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))) {
      s.setSoTimeout(10_000);
      String hello = r.readLine();
      String[] h = hello == null ? new String[0] : hello.split(" ");
      if (h.length != 3 || !h[0].equals("WEFT-LOG") || !h[1].equals(endpoint.secret())) return;
      String prefix = "[rank " + Integer.parseInt(h[2]) + "] ";
      s.setSoTimeout(0);
      String line;
      while ((line = r.readLine()) != null) {
        if (line.isEmpty()) continue;
        PrintStream to = line.charAt(0) == 'e' ? err : out;
        synchronized (to) {
          to.println(prefix + line.substring(Math.min(2, line.length())));
        }
      }
    } catch (IOException | NumberFormatException dropped) {
      // the task has gone; its lines so far are printed
    }
  }

  /** Waits up to 2 s for the tasks' connections to end (they have, once the attempt is over), then stops. */
  @Override
  public void close() {
    List<Thread> rs;
    synchronized (readers) {
      rs = List.copyOf(readers);
    }
    long deadline = System.nanoTime() + 2_000_000_000L;
    for (Thread t : rs) {
      try {
        t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    try {
      server.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    out.flush();
    err.flush();
  }

  /** Task side: a {@link RankOutput} that sends to the driver, or prints to the executor's log when it cannot. */
  static final class Client implements RankOutput, AutoCloseable {
    private final String prefix;
    private Socket socket;
    private Writer w;

    Client(Endpoint e, int rank) {
      this.prefix = "[rank " + rank + "] ";
      try {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(e.host(), e.port()), 5000);
        s.setTcpNoDelay(true);
        w = new BufferedWriter(new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8));
        w.write("WEFT-LOG " + e.secret() + " " + rank + "\n");
        w.flush();
        socket = s;
      } catch (IOException x) {
        fallBack("cannot reach the driver's log at " + e.host() + ":" + e.port() + " (" + x.getMessage() + ")");
      }
    }

    @Override
    public synchronized void line(boolean stderr, String text) {
      if (w != null) {
        try {
          w.write((stderr ? "e " : "o ") + text + "\n");
          w.flush();
          return;
        } catch (IOException x) {
          fallBack("lost the connection to the driver's log (" + x.getMessage() + ")");
        }
      }
      (stderr ? System.err : System.out).println(prefix + text);
    }

    private void fallBack(String why) {
      System.err.println(prefix + "weft spark: " + why + "; this rank's output goes to this executor's log");
      w = null;
      closeQuietly();
    }

    private void closeQuietly() {
      try {
        if (socket != null) socket.close();
      } catch (IOException ignored) {
        // gone already
      }
      socket = null;
    }

    @Override
    public synchronized void close() {
      try {
        if (w != null) w.flush();
      } catch (IOException | RuntimeException ignored) {
        // the driver has gone
      }
      w = null;
      closeQuietly();
    }
  }
}
