package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.io.AtomicFiles;
import dev.weft.trace.HtmlReport;
import dev.weft.trace.RunFolder;
import dev.weft.trace.TimelineSvg;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code weft report}: with run folders ({@code weft train --run-dir}), one self-contained HTML report of
 * them ({@link HtmlReport}); with {@code --trace}, a trace written by {@code weft train --trace} drawn as an
 * SVG timeline, one row per rank.
 */
@Command(name = "report", mixinStandardHelpOptions = true,
    description = {"Report on runs: 'weft report DIR [DIR2 ...]' writes one HTML page (curves, where the step time "
        + "went against the planner, memory, timeline, diagnosis; a comparison for several runs) from folders of "
        + "'weft train --run-dir'.", "'weft report --trace FILE.json' draws a trace as an SVG timeline."})
public final class ReportCommand implements Callable<Integer> {
  @Parameters(paramLabel = "DIR", arity = "0..*", description = "Run folders written by 'weft train --run-dir'.")
  List<Path> dirs = new ArrayList<>();

  @Option(names = "--trace", paramLabel = "FILE.json", description = "Draw this trace (from 'weft train --trace') as an SVG timeline instead.")
  Path trace;

  @Option(names = "--out", paramLabel = "FILE", description = "Where to write (default: DIR/report.html for run "
      + "folders, the first folder's; the trace's name with .svg for --trace).")
  Path out;

  @Option(names = "--from-ms", defaultValue = "0", description = "With --trace: start of the window to draw, in ms from the trace's start.")
  double fromMs;

  @Option(names = "--to-ms", defaultValue = "0", description = "With --trace: end of the window (0 = the whole trace).")
  double toMs;

  @Override
  public Integer call() {
    if (trace != null) {
      if (!dirs.isEmpty()) {
        throw new WeftInputException("give either run folders or --trace, not both: 'weft report DIR ...' writes the "
            + "HTML report (it includes the timeline), 'weft report --trace FILE' only the SVG timeline.");
      }
      Path target = out != null ? out : trace.resolveSibling(trace.getFileName().toString().replaceAll("\\.json$", "") + ".svg");
      AtomicFiles.writeString(target, TimelineSvg.render(trace, fromMs, toMs));
      System.out.println("timeline written to " + target);
      return 0;
    }
    if (dirs.isEmpty()) {
      throw new WeftInputException("nothing to report: give run folders ('weft train --run-dir DIR', then 'weft report "
          + "DIR'), or --trace FILE.json for a timeline.");
    }
    List<RunFolder> runs = new ArrayList<>();
    for (Path d : dirs) runs.add(RunFolder.read(d));
    Path target = out != null ? out : dirs.get(0).resolve("report.html");
    AtomicFiles.writeString(target, HtmlReport.render(runs));
    for (RunFolder r : runs) {
      for (String p : r.problems()) System.out.println(r.name() + ": " + p);
    }
    System.out.println("report written to " + target);
    return 0;
  }
}
