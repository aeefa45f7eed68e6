package dev.weft.comm;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import java.time.Duration;
import java.util.Locale;

/**
 * A rank of the process tests, started by {@code weft launch --main-class}: joins the tcp job from the
 * torchrun variables and runs the collective checks. Modes: {@code check} prints the group checksum;
 * {@code kill RANK [ITERATION]} makes that rank SIGKILL itself in the middle of a run of all-reduces
 * (before all-reduce number ITERATION, default 3). The system property weft.test.transport picks
 * the transport (auto or socket); every rank prints where its shared-memory files would be.
 */
public final class TcpProcessMain {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    Duration timeout = Duration.ofSeconds(Long.parseLong(System.getProperty("weft.test.timeout", "20")));
    TcpBackend.Transport transport = TcpBackend.Transport.parse(System.getProperty("weft.test.transport", "auto"));
    try (TcpBackend b = TcpBackend.connect(TcpBackend.Config.fromEnv(System.getenv(), timeout).withTransport(transport))) {
      System.out.println("shm files=" + ShmGroup.directory().resolve(b.shmPrefix()) + " transport="
          + b.transportOf(java.util.stream.IntStream.range(0, b.worldSize()).toArray()));
      switch (mode) {
        case "check" -> {
          ParallelLayout layout = ParallelLayout.of(b.worldSize(), 1, 1, 1);
          double sum = new CollectiveChecks(b, 1234, layout, Axis.DP).runAll(0, 1, 5, 777, 70_000);
          b.world().barrier();
          System.out.println(String.format(Locale.ROOT, "ok checksum=%.3f", sum));
        }
        case "kill" -> {
          int victim = Integer.parseInt(args[1]);
          int when = args.length > 2 ? Integer.parseInt(args[2]) : 3;
          Communicator c = b.world();
          float[] x = new float[1 << 20];
          for (int i = 0; i < 1000; i++) {
            if (i == when && b.rank() == victim) {
              System.out.println("killing myself with SIGKILL");
              System.out.flush();
              new ProcessBuilder("kill", "-KILL", Long.toString(ProcessHandle.current().pid())).start().waitFor();
              Thread.sleep(10_000);
            }
            c.allReduce(x, 0, x.length, ReduceOp.SUM);
          }
        }
        default -> throw new IllegalArgumentException("unknown mode " + mode);
      }
    } catch (CommException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(1);
    }
  }
}
