package dev.weft.cli;

import picocli.CommandLine.Command;

/** {@code weft bench}: benchmarks that print their figures as ratios against baselines measured in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmarks: each prints its figure against a baseline measured in the same run.",
    subcommands = {StepBenchCommand.class, DpBenchCommand.class, TpBenchCommand.class,
        dev.weft.parallel.pp.BubbleBenchCommand.class, dev.weft.parallel.cp.CpBenchCommand.class, PlanBenchCommand.class, dev.weft.bench.GemmBenchCommand.class, dev.weft.bench.CommBenchCommand.class,
        dev.weft.bench.FamilyBenchCommand.class})
public final class BenchCommand implements Runnable {
  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
