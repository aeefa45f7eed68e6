package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.plan.Calibration;
import dev.weft.plan.DeviceSpec;
import dev.weft.plan.LocalMachine;
import dev.weft.plan.RuntimeComparison;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft bench plan}: the planner's predictions against Weft's runtime on this machine. Trains each
 * layout of {@link RuntimeComparison#cases()} (micro and mini presets, dp/tp/sp/pp/cp, ZeRO 0-3, hybrids)
 * for a few steps on the local backend and prints predicted vs measured peak memory of device 0 and median
 * step time, with the errors against the targets (memory 10%, time 25%). Times are predicted from a
 * calibration ({@code weft plan --calibrate}; the default file, or --device-file), memory needs none.
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
    description = "Compare the planner's predicted memory and step time with measured runs on this machine.")
public final class PlanBenchCommand implements Callable<Integer> {
  @Option(names = "--device-file", paramLabel = "FILE",
      description = "Calibration (DeviceSpec JSON) to predict times with (default: ~/.weft/device.json if present).")
  Path deviceFile;

  @Option(names = "--steps", defaultValue = "12", description = "Steps per layout; the first is not timed (default ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--only", split = ",", paramLabel = "N", description = "Run only these rows (1-based).")
  List<Integer> only;

  private final PrintStream out;

  public PlanBenchCommand() {
    this(System.out);
  }

  public PlanBenchCommand(PrintStream out) {
    this.out = out;
  }


  @Override
  public Integer call() throws Exception {
    if (steps < 2) throw new WeftInputException("--steps must be at least 2 (the first step is not timed), got " + steps + ".");
    Path file = deviceFile != null ? deviceFile : Files.isRegularFile(Calibration.defaultFile()) ? Calibration.defaultFile() : null;
    DeviceSpec spec = Calibration.loadOrDefault(file);
    LocalMachine machine = LocalMachine.of(spec);
    out.printf(Locale.ROOT, "device: %s (%s); %d cores; each of W local ranks gets max(1, %d / W) threads%n",
        spec.name(), file == null ? "no calibration found: uncalibrated defaults, run 'weft plan --calibrate'" : file,
        machine.cores(), machine.cores());
    List<RuntimeComparison.Case> cases = RuntimeComparison.cases();
    Path data = RuntimeComparison.syntheticCorpus();
    List<RuntimeComparison.Row> rows = new ArrayList<>();
    long t0 = System.nanoTime();
    RuntimeComparison.warmUp(data);
    for (int i = 0; i < cases.size(); i++) {
      if (only != null && !only.contains(i + 1)) continue;
      RuntimeComparison.Case c = cases.get(i);
      RuntimeComparison.Row r = RuntimeComparison.run(c, machine, steps, data);
      rows.add(r);
      out.printf(Locale.ROOT, "  ran %-60s steps(ms) %s%n", c.describe(), fmt(r.stepMs()));
    }
    out.println();
    out.print(RuntimeComparison.table(rows));
    out.printf(Locale.ROOT, "%s per layout, median after the first; %.0f s in all%n", dev.weft.Counts.of(steps, "step"),
        (System.nanoTime() - t0) / 1e9);
    return 0;
  }

  private static String fmt(double[] ms) {
    StringBuilder sb = new StringBuilder("[");
    for (double x : ms) sb.append(sb.length() > 1 ? " " : "").append(Math.round(x));
    return sb.append(']').toString();
  }
}
