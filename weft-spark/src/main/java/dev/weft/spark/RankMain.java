package dev.weft.spark;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;

/**
 * The entry point of a rank's JVM: {@code RankMain MAIN_CLASS ARGS...} runs {@code MAIN_CLASS} (Weft's
 * command line, {@code dev.weft.cli.Main}) and stops the rank as soon as the executor that started it is
 * gone. The executor holds the write end of this process's stdin and never writes to it, so end of file
 * on stdin means that its JVM has exited, even when it was killed with SIGKILL and had no chance to stop
 * its children: no rank outlives its executor.
 */
public final class RankMain {
  private RankMain() {}

  public static void main(String[] args) throws Throwable {
    if (args.length == 0) {
      System.err.println("weft spark: RankMain needs the main class to run, e.g. dev.weft.cli.Main train ...");
      System.exit(2);
    }
    Thread watch = new Thread(RankMain::exitWhenParentGoes, "weft-spark-parent-watch");
    watch.setDaemon(true);
    watch.start();
    try {
      Class.forName(args[0]).getMethod("main", String[].class).invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
    System.exit(0);
  }

  private static void exitWhenParentGoes() {
    try {
      while (System.in.read() >= 0) {
        // nothing is ever written; wait for end of file
      }
    } catch (IOException closed) {
      // the same: the parent is gone
    }
    System.err.println("weft spark: the executor that started this rank is gone; stopping the rank");
    System.exit(1);
  }
}
