package dev.weft.spark;

import java.util.Arrays;
import java.util.List;

/**
 * A stand-in for Weft's command line in the ranks of the tests, to drive the distributor through what real
 * training cannot do on demand. {@code env ...} prints the rank's variables and arguments and exits 0;
 * {@code sleep ...} prints as {@code env} and sleeps until killed; {@code fail R CODE ...} makes rank R print a message
 * on stderr and exit CODE while the others sleep; {@code fail-unless-resumed ...} prints as {@code env} and then is
 * {@code fail 1 3} unless the arguments hold {@code --resume auto}; {@code sleep-unless-resumed} likewise sleeps. As {@code train ... --fake MODE} it does what MODE
 * says. Every test adds a unique marker argument so that it can find the processes it started.
 */
public final class FakeRank {
  private FakeRank() {}

  public static void main(String[] args) throws InterruptedException {
    int rank = Integer.parseInt(System.getenv().getOrDefault("RANK", "0"));
    List<String> a = Arrays.asList(args);
    // As "train", the distributor treats the command as training (restarts add --resume auto); "--fake MODE" says what to do.
    String mode = args[0].equals("train") ? a.get(a.indexOf("--fake") + 1) : args[0];
    switch (mode) {
      case "env" -> env(rank, a);
      case "sleep" -> {
        env(rank, a);
        sleep();
      }
      case "fail" -> {
        if (rank == Integer.parseInt(args[1])) {
          System.err.println("fake failure of rank " + rank);
          System.exit(Integer.parseInt(args[2]));
        }
        sleep();
      }
      case "sleep-unless-resumed" -> {
        env(rank, a);
        if (!resumed(a)) sleep();
      }
      case "fail-unless-resumed" -> {
        env(rank, a);
        if (resumed(a)) {
          return;
        } else if (rank == 1) {
          Thread.sleep(500);
          System.err.println("simulated crash of rank 1");
          System.exit(3);
        } else {
          sleep();
        }
      }
      default -> throw new IllegalArgumentException(args[0]);
    }
  }

  private static boolean resumed(List<String> a) {
    int i = a.lastIndexOf("--resume");
    return i >= 0 && i + 1 < a.size() && a.get(i + 1).equals("auto");
  }

  private static void env(int rank, List<String> args) {
    StringBuilder b = new StringBuilder("env");
    for (String v : List.of("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT")) {
      b.append(' ').append(v).append('=').append(System.getenv(v));
    }
    b.append(" TOKEN=").append(System.getenv("WEFT_JOB_TOKEN"));
    b.append(" pid=").append(ProcessHandle.current().pid());
    b.append(" ppid=").append(ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L));
    b.append(" args=").append(String.join(" ", args));
    System.out.println(b);
  }

  private static void sleep() throws InterruptedException {
    System.out.println("sleeping pid=" + ProcessHandle.current().pid());
    Thread.sleep(600_000);
  }
}
