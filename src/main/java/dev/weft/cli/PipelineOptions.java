package dev.weft.cli;

import picocli.CommandLine.Option;

/** The pipeline options shared by commands that run a layout: stages, schedule, virtual stages, stage split. */
public final class PipelineOptions {
  @Option(names = "--pp", defaultValue = "1", description = "Pipeline stages: consecutive layers on different devices (default ${DEFAULT-VALUE}).")
  int pp;

  @Option(names = "--schedule", defaultValue = "1f1b", description = "Pipeline schedule: naive, gpipe, 1f1b, interleaved, zb (default ${DEFAULT-VALUE}).")
  String schedule;

  @Option(names = "--stage-split", defaultValue = "count", description = "How layers are cut into pipeline chunks: count (equal layers), params (balanced by parameters), flops (balanced by compute), or explicit counts like 3,2,2,1 (default ${DEFAULT-VALUE}).")
  String stageSplit;

  @Option(names = "--virtual-stages", defaultValue = "1", description = "Model chunks per pipeline rank (interleaved schedule; default ${DEFAULT-VALUE}).")
  int virtualStages;
}
