package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Refusals, garbage, vanished peers and timeouts on the tcp backend, with each transport (AUTO: shared memory). */
class TcpFaultTest {
  @Test
  void wrongTokenIsRefusedWithAClearError() throws Exception {
    int port = TcpThreads.freePort();
    Duration t = Duration.ofSeconds(5);
    // rank 0 waits for the genuine rank 1; an impostor with the wrong token is refused first.
    CompletableFuture<TcpBackend> rank0 = CompletableFuture.supplyAsync(
        () -> TcpBackend.connect(new TcpBackend.Config(0, 2, "127.0.0.1", port, "right", t)));
    assertThatThrownBy(() -> TcpBackend.connect(new TcpBackend.Config(1, 2, "127.0.0.1", port, "wrong", t)))
        .isInstanceOf(WeftInputException.class)
        .hasMessageContaining("job token refused");
    try (TcpBackend one = TcpBackend.connect(new TcpBackend.Config(1, 2, "127.0.0.1", port, "right", t));
         TcpBackend zero = rank0.get(10, TimeUnit.SECONDS)) {
      float[] x = {1 + one.rank()};
      CompletableFuture<Void> other = CompletableFuture.runAsync(() -> zero.world().allReduce(new float[] {1}, 0, 1, ReduceOp.SUM));
      one.world().allReduce(x, 0, 1, ReduceOp.SUM);
      other.get(10, TimeUnit.SECONDS);
      assertThat(x[0]).isEqualTo(3f);
    }
  }

  @Test
  void theTransportComesFromWeftTransportAndATypoIsAUserError() {
    Map<String, String> env = Map.of("RANK", "0", "WORLD_SIZE", "2", "WEFT_JOB_TOKEN", "x");
    assertThat(TcpBackend.Config.fromEnv(env, Duration.ofSeconds(1)).transport()).isEqualTo(TcpBackend.Transport.AUTO);
    java.util.Map<String, String> socket = new java.util.HashMap<>(env);
    socket.put("WEFT_TRANSPORT", "Socket");
    assertThat(TcpBackend.Config.fromEnv(socket, Duration.ofSeconds(1)).transport()).isEqualTo(TcpBackend.Transport.SOCKET);
    socket.put("WEFT_TRANSPORT", "shm");
    assertThatThrownBy(() -> TcpBackend.Config.fromEnv(socket, Duration.ofSeconds(1)))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("WEFT_TRANSPORT='shm'").hasMessageContaining("socket");
  }

  @Test
  void missingTokenIsAUserError() {
    assertThatThrownBy(() -> TcpBackend.Config.fromEnv(Map.of("RANK", "0", "WORLD_SIZE", "2"), Duration.ofSeconds(1)))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("WEFT_JOB_TOKEN");
    assertThatThrownBy(() -> TcpBackend.Config.fromEnv(Map.of("RANK", "2", "WORLD_SIZE", "2", "WEFT_JOB_TOKEN", "x"),
        Duration.ofSeconds(1))).isInstanceOf(WeftInputException.class).hasMessageContaining("RANK");
  }

  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void corruptHeaderIsRefusedBeforeAllocation(TcpBackend.Transport transport) throws Exception {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> TcpThreads.run(2, Duration.ofSeconds(10), transport, b -> {
      Communicator c = b.world();
      c.barrier();
      if (b.rank() == 1) {
        // A header announcing 4 GiB: the reader must refuse it, not allocate it.
        ByteBuffer h = ByteBuffer.allocate(TcpWire.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(TcpWire.FRAME_MAGIC).putInt(CommOp.ALL_REDUCE.ordinal()).putLong(0).putInt(1).putInt(Integer.MAX_VALUE).flip();
        ((TcpBackend) b).peer(0).channelForTest().write(h);
        Thread.sleep(500);
      } else {
        c.allReduce(new float[4], 0, 4, ReduceOp.SUM);
      }
    })).isInstanceOf(CommException.class)
        .hasMessageContaining("allReduce")
        .hasMessageContaining("garbage from global rank 1")
        .hasMessageContaining("over the limit");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }

  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void aPeerThatVanishesFailsTheOthersFast(TcpBackend.Transport transport) throws Exception {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> TcpThreads.run(3, Duration.ofSeconds(20), transport, b -> {
      Communicator c = b.world();
      c.barrier();
      if (b.rank() == 2) {
        // Die without saying goodbye: close the sockets abruptly.
        for (int p = 0; p < 2; p++) ((TcpBackend) b).peer(p).channelForTest().close();
        return;
      }
      c.allReduce(new float[100_000], 0, 100_000, ReduceOp.SUM);
    })).isInstanceOf(CommException.class)
        .hasMessageContaining("allReduce")
        // Rank 0 names rank 2 even when rank 1 noticed first and stopped: rank 1's abort names rank 2.
        .hasMessageContaining("lost the connection to global rank 2");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }

  /**
   * Rank 2's link to rank 1 breaks while its link to rank 0 stays up and it stops taking part: only rank 1
   * can see what happened. Its abort tells rank 0, which fails fast naming rank 2 (not rank 1, which merely
   * stopped, and not after the 20 s timeout).
   */
  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void aFailureOnlyOneRankSawReachesTheOthersNamingTheRankAtFault(TcpBackend.Transport transport) throws Exception {
    long t0 = System.nanoTime();
    String[] seen = new String[3];
    assertThatThrownBy(() -> TcpThreads.run(3, Duration.ofSeconds(20), transport, b -> {
      Communicator c = b.world();
      c.barrier();
      if (b.rank() == 2) {
        ((TcpBackend) b).peer(1).channelForTest().close();
        Thread.sleep(3000);
        return;
      }
      try {
        c.allReduce(new float[100_000], 0, 100_000, ReduceOp.SUM);
      } catch (CommException e) {
        seen[b.rank()] = e.getMessage();
        throw e;
      }
    })).isInstanceOf(CommException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(10));
    assertThat(seen[1]).contains("global rank 2");
    assertThat(seen[0]).contains("lost the connection to global rank 2").contains("global rank 1 stopped because of it");
  }

  @ParameterizedTest
  @EnumSource(TcpBackend.Transport.class)
  void timeoutNamesThePeer(TcpBackend.Transport transport) {
    assertThatThrownBy(() -> TcpThreads.run(2, Duration.ofMillis(500), transport, b -> {
      if (b.rank() == 0) b.world().recv(new float[1], 0, 1, 1, 3);
      else Thread.sleep(1500);
    })).isInstanceOf(CommException.class)
        .hasMessageContaining("recv")
        .hasMessageContaining("timed out")
        .hasMessageContaining("global rank 1");
  }
}
