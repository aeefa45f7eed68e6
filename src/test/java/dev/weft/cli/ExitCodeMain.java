package dev.weft.cli;

/**
 * A rank for launch tests: prints a line on stdout and on stderr, then exits with the code given for its
 * RANK (argument RANK of the list, 0 when the list is shorter).
 */
public final class ExitCodeMain {
  private ExitCodeMain() {}

  public static void main(String[] args) {
    int rank = Integer.parseInt(System.getenv("RANK"));
    System.out.println("out of rank " + rank);
    System.err.println("err of rank " + rank);
    System.exit(rank < args.length ? Integer.parseInt(args[rank]) : 0);
  }
}
