package dev.weft.cli;

import dev.weft.WeftInputException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code weft} command line. Exit codes: 0 success, 2 bad input (a one-paragraph message, no stack
 * trace unless --verbose), 1 anything else.
 */
@Command(name = "weft", mixinStandardHelpOptions = true, version = "weft 0.1.0",
    description = "Train GPT-2 across many devices: data, tensor, pipeline and sequence parallelism.",
    subcommands = {TrainCommand.class, PrepareCommand.class, GradsCommand.class, VerifyCommand.class, SampleCommand.class, PlanCommand.class,
        LaunchCommand.class, BenchCommand.class, ReportCommand.class},
    sortOptions = false)
public final class Main implements Runnable {
  @Option(names = "--verbose", description = "Print stack traces of errors.", scope = CommandLine.ScopeType.INHERIT)
  boolean verbose;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "choose a command, e.g. 'weft train'");
  }

  public static void main(String[] args) {
    BootStderr.restore();
    System.exit(execute(args));
  }

  /** Runs the CLI and returns its exit code (used by tests and by launched ranks). */
  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /** Runs the CLI with picocli's messages (usage, errors) going to {@code err}; for tests. */
  public static int execute(PrintWriter err, String... args) {
    CommandLine cl = commandLine();
    cl.setErr(err);
    return cl.execute(args);
  }

  static CommandLine commandLine() {
    Main main = new Main();
    CommandLine cl = new CommandLine(main);
    cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
      PrintWriter err = cmd.getErr();
      boolean verbose = parseResult.hasMatchedOption("--verbose")
          || (parseResult.subcommand() != null && anyVerbose(parseResult));
      Throwable cause = ex;
      if (cause instanceof WeftInputException) {
        err.println("weft: " + cause.getMessage());
        if (verbose) cause.printStackTrace(err);
        err.flush();
        return 2;
      }
      if (cause instanceof OutOfMemoryError) {
        err.println("weft: the JVM ran out of heap (" + (Runtime.getRuntime().maxMemory() >> 20) + " MiB): the devices'"
            + " tensors live in this process. Give it more with WEFT_JAVA_OPTS=-Xmx<size> (the launcher uses up to 75% of"
            + " RAM by default), or lower --micro-batch, the context or the model.");
        err.flush();
        return 1;
      }
      err.println("weft: error: " + cause);
      if (verbose) {
        cause.printStackTrace(err);
      } else {
        err.println("(run with --verbose for the stack trace)");
      }
      err.flush();
      return 1;
    });
    cl.setParameterExceptionHandler((ex, args) -> {
      PrintWriter err = ex.getCommandLine().getErr();
      err.println("weft: " + ex.getMessage());
      err.println("(see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
      err.flush();
      return 2;
    });
    return cl;
  }

  private static boolean anyVerbose(CommandLine.ParseResult pr) {
    for (CommandLine.ParseResult p = pr; p != null; p = p.subcommand()) {
      if (p.hasMatchedOption("--verbose")) return true;
    }
    return false;
  }
}
