package dev.weft.cli;

import dev.weft.comm.Devices;
import dev.weft.data.Gpt2Tokenizer;
import dev.weft.train.Checkpoint;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.tensor.DeviceMemory;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import dev.weft.trace.RunDir;
import dev.weft.trace.RunSummary;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code weft train}: trains GPT-2; with no options, the micro preset on the JDK's own Java sources. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Train GPT-2. With no options: the micro preset on the JDK's own Java sources.")
public final class TrainCommand implements Callable<Integer> {
  @Mixin ModelOptions model = new ModelOptions();

  @Mixin LayoutOptions layout = new LayoutOptions();

  @Mixin PipelineOptions pipeline = new PipelineOptions();

  @Mixin RunOptions run = new RunOptions();

  @Option(names = "--steps", description = "Optimizer steps (default ${DEFAULT-VALUE}).", defaultValue = "500")
  int steps;

  @Option(names = "--stop-after", paramLabel = "STEP", description = "Stop after this step (to split a run; resume with --resume).", defaultValue = "0")
  int stopAfter;

  @Option(names = "--eval-every", description = "Validation loss every N steps (default: 5 times a run).")
  Integer evalEvery;

  @Option(names = "--eval-batches", description = "Validation batches per evaluation (default ${DEFAULT-VALUE}).", defaultValue = "4")
  int evalBatches;

  @Option(names = "--layout", defaultValue = "manual", description = "manual: the layout options given (default); auto: ask the planner for the best layout on --num-devices local devices and say why.")
  String layoutMode;

  @Option(names = "--num-devices", description = "Devices for --layout auto (default: the machine's cores).")
  Integer numDevices;

  @Option(names = "--trace", paramLabel = "FILE.json", description = "Write a Chrome/Perfetto trace of every rank's forward, backward and communication spans.")
  Path trace;

  @Option(names = "--metrics", paramLabel = "FILE.jsonl", description = "Write per-step metrics (JSON Lines).")
  Path metrics;

  @Option(names = "--run-dir", paramLabel = "DIR", description = "Keep the run together in DIR (a new folder): "
      + "config.json, metrics.jsonl, trace.json and summary.json, for 'weft report DIR'.")
  Path runDir;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--save", paramLabel = "DIR", description = "Save a checkpoint (a Hugging Face style model folder plus optimizer and training state).")
  Path save;

  @Option(names = "--save-every", description = "Also save every N steps (default: only at the end).", defaultValue = "0")
  int saveEvery;

  @Option(names = "--resume", paramLabel = "DIR", description = "Continue a run from a checkpoint saved with --save.")
  Path resume;

  @Option(names = "--no-mfu", description = "Skip measuring the matmul peak for the MFU figure in the summary.")
  boolean noMfu;

  @Option(names = "--sample-every", paramLabel = "N", description = "Print a sample of the model every N steps (and at the end), continuing --prompt; the weights are gathered to rank 0 under any layout.")
  Integer sampleEvery;

  @Option(names = "--prompt", description = "Text the samples of --sample-every continue (default '${DEFAULT-VALUE}').", defaultValue = "public class ")
  String prompt;

  @Option(names = "--sample-tokens", paramLabel = "K", description = "Tokens per sample (default ${DEFAULT-VALUE}).", defaultValue = "64")
  int sampleTokens;

  @Option(names = "--sample-temperature", description = "Softmax temperature of the samples; 0 = greedy (default ${DEFAULT-VALUE}).", defaultValue = "0.8")
  double sampleTemperature;

  @Override
  public Integer call() {
    PrintStream out = System.out;
    TrainConfig cfg = config();
    if (layoutMode.equalsIgnoreCase("auto")) cfg = autoLayout(cfg, out);
    else if (!layoutMode.equalsIgnoreCase("manual")) {
      throw new dev.weft.WeftInputException("--layout must be manual or auto, got '" + layoutMode + "'.");
    }
    Gpt2Tokenizer tok = tokenizer(cfg);
    dev.weft.train.SampleSpec samples = sampleEvery == null ? null
        : new dev.weft.train.SampleSpec(sampleEvery, prompt, sampleTokens, sampleTemperature, tok).validate(cfg.model());
    boolean reporter = cfg.devices() != Devices.TCP || "0".equals(System.getenv().getOrDefault("RANK", "0").trim());
    Path traceFile = trace;
    RunDir dir = null;
    if (runDir != null) {
      if (metrics != null || trace != null) {
        throw new dev.weft.WeftInputException("--run-dir keeps metrics.jsonl and trace.json in " + runDir
            + " itself; drop --metrics and --trace, or drop --run-dir.");
      }
      dir = reporter ? RunDir.create(runDir) : new RunDir(runDir);
      cfg = cfg.toBuilder().metrics(dir.metrics()).build().validate();
      traceFile = dir.trace();
      if (reporter) dir.writeConfig(cfg, spec == null ? java.util.List.of() : spec.commandLine().getParseResult().originalArgs());
    }
    Trainer.Result r = new Trainer(cfg, out).withTrace(traceFile).withTokenizer(tok).withSamples(samples).run();
    if (reporter) {
      RunSummary s = Summary.print(out, cfg, r, !noMfu);
      if (dir != null && s != null) {
        dir.writeSummary(s);
        out.println("run kept in " + runDir + " (config, metrics, trace, summary); 'weft report " + runDir
            + "' writes its HTML report");
      }
    }
    return 0;
  }

  TrainConfig config() {
    if (resume != null && run.checkpoint != null) {
      throw new dev.weft.WeftInputException("--resume and --checkpoint both given: --resume continues a run "
          + "(weights, optimizer, step), --checkpoint starts a new run from weights. Choose one.");
    }
    TrainConfig.Builder b = run.builder(run.model(model, resume), layout, pipeline).steps(steps).stopAfter(stopAfter)
        .evalBatches(evalBatches).metrics(metrics).save(save).saveEvery(saveEvery).resume(resume);
    if (evalEvery != null) b.evalEvery(evalEvery);
    return b.build().validate();
  }

  /**
   * The GPT-2 tokenizer (vocab.json + merges.txt) of the folder the run starts from (--resume or
   * --checkpoint), or null: then bytes are the tokens, which a checkpoint with a larger vocabulary refuses.
   */
  static Gpt2Tokenizer tokenizer(TrainConfig cfg) {
    Path from = cfg.resume() != null ? cfg.resume() : cfg.init();
    if (from == null) return null;
    Gpt2Tokenizer tok = Gpt2Tokenizer.find(from);
    int vocab = cfg.model().vocab();
    String option = cfg.resume() != null ? "--resume" : "--checkpoint";
    boolean prepared = cfg.data() != null && dev.weft.data.TokenFile.isTokenFile(cfg.data()); // tokens as they are
    if (tok == null && vocab > 256 && !prepared) {
      throw new dev.weft.WeftInputException("the model of " + option + " " + from + " has a vocabulary of " + vocab
          + " tokens, but its folder has no " + Gpt2Tokenizer.VOCAB + " and " + Gpt2Tokenizer.MERGES + ": without "
          + "them Weft would feed it bytes (tokens 0..255) and train nonsense. Copy vocab.json and merges.txt from "
          + "the model's Hugging Face repository (for GPT-2: openai-community/gpt2) into that folder.");
    }
    if (tok != null && tok.vocabSize() > vocab) {
      throw new dev.weft.WeftInputException("the tokenizer beside " + option + " " + from + " has ids up to "
          + (tok.vocabSize() - 1) + " but the model's vocabulary has " + vocab + " tokens. The vocab.json and "
          + "merges.txt must belong to these weights; copy the ones from the model's repository.");
    }
    return tok;
  }

  /** Replaces the layout of {@code cfg} by the planner's best on the local devices, and says which and why. */
  private TrainConfig autoLayout(TrainConfig cfg, PrintStream out) {
    Parallelism given = cfg.parallel();
    if (given.worldSize() > 1 || given.zero() > 0 || given.sp()) {
      throw new dev.weft.WeftInputException("--layout auto chooses --dp, --tp, --pp, --cp, --zero and --sp itself; "
          + "drop them, or keep them with --layout manual.");
    }
    int devices = numDevices != null ? numDevices : Runtime.getRuntime().availableProcessors();
    int mb = run.microBatch != null ? run.microBatch : 0;
    dev.weft.plan.AutoLayout.Choice c = dev.weft.plan.AutoLayout.choose(cfg.model(), cfg.batch(), mb, mb, devices,
        (dev.weft.plan.DeviceSpec) null);
    Parallelism chosen = c.parallelism();
    out.printf("layout auto: %s, micro-batch %d, on %d device%s%n%s%n", chosen, c.microBatch(), devices,
        devices == 1 ? "" : "s", c.explanation());
    return cfg.toBuilder().microBatch(c.microBatch()).parallel(chosen).build().validate();
  }
}
