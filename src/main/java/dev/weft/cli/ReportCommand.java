package dev.weft.cli;

import dev.weft.io.AtomicFiles;
import dev.weft.trace.TimelineSvg;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code weft report}: draws a trace written by {@code weft train --trace} as an SVG timeline, one row per rank. */
@Command(name = "report", mixinStandardHelpOptions = true,
    description = "Draw a trace from 'weft train --trace' as an SVG timeline (one row per rank).")
public final class ReportCommand implements Callable<Integer> {
  @Option(names = "--trace", required = true, paramLabel = "FILE.json", description = "Trace written by 'weft train --trace'.")
  Path trace;

  @Option(names = "--out", paramLabel = "FILE.svg", description = "Where to write the picture (default: the trace's name with .svg).")
  Path out;

  @Option(names = "--from-ms", defaultValue = "0", description = "Start of the window to draw, in ms from the trace's start.")
  double fromMs;

  @Option(names = "--to-ms", defaultValue = "0", description = "End of the window (0 = the whole trace).")
  double toMs;

  @Override
  public Integer call() {
    Path target = out != null ? out : trace.resolveSibling(trace.getFileName().toString().replaceAll("\\.json$", "") + ".svg");
    AtomicFiles.writeString(target, TimelineSvg.render(trace, fromMs, toMs));
    System.out.println("timeline written to " + target);
    return 0;
  }
}
