package dev.weft.comm;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Test helper: tcp ranks as threads of this JVM, each with its own sockets on loopback. */
final class TcpThreads {
  private TcpThreads() {}

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Runs body on every rank with the default transport (AUTO: shared memory, all ranks being on this host). */
  static void run(int world, Duration timeout, LocalCluster.RankBody body) throws Exception {
    run(world, timeout, TcpBackend.Transport.AUTO, ShmGroup.DEFAULT_SLOT_BYTES, body);
  }

  static void run(int world, Duration timeout, TcpBackend.Transport transport, LocalCluster.RankBody body) throws Exception {
    run(world, timeout, transport, ShmGroup.DEFAULT_SLOT_BYTES, body);
  }

  /** Runs body on every rank; rethrows the first failure (by rank order). */
  static void run(int world, Duration timeout, TcpBackend.Transport transport, int shmSlotBytes,
                  LocalCluster.RankBody body) throws Exception {
    int port = freePort();
    ExecutorService pool = Executors.newFixedThreadPool(world);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int r = 0; r < world; r++) {
        TcpBackend.Config cfg = new TcpBackend.Config(r, world, "127.0.0.1", port, "test-token", timeout, transport);
        fs.add(pool.submit(() -> {
          try (TcpBackend b = TcpBackend.connect(cfg, shmSlotBytes)) {
            body.run(b);
          }
          return null;
        }));
      }
      Exception first = null;
      for (Future<?> f : fs) {
        try {
          f.get(timeout.toMillis() * 3 + 5000, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          if (first == null) first = e.getCause() instanceof Exception ex ? ex : e;
        }
      }
      if (first != null) throw first;
    } finally {
      pool.shutdownNow();
    }
  }
}
