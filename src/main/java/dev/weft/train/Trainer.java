package dev.weft.train;

import dev.weft.parallel.Parallelism;
import dev.weft.WeftInputException;
import dev.weft.comm.Backend;
import dev.weft.comm.CommException;
import dev.weft.comm.LocalCluster;
import dev.weft.comm.TcpBackend;
import dev.weft.data.Corpus;
import dev.weft.data.Gpt2Tokenizer;
import dev.weft.model.ModelSpec;
import java.io.OutputStream;
import java.io.PrintStream;
import dev.weft.trace.Tracer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Trains GPT-2 on a layout of devices. Every rank runs the same loop ({@link RankTrainer}); this class
 * starts the ranks: as threads of this process ({@code --devices local}, the default), or as this process
 * being one rank of a job started by {@code weft launch} ({@code --devices tcp}). Rank 0 reports.
 */
public final class Trainer {
  /**
   * What a run produced (rank 0's view; memory figures of device 0 unless stated).
   *
   * @param stateBytes      model state by hand at this layout (weights, gradients, AdamW moments)
   * @param activationBytes activations by hand (the formula of {@link dev.weft.decoder.ActivationShapes})
   * @param finalParams     the full parameters after the last step (flat, layout-independent)
   * @param peakByCategory  per device this process saw (all of them on the local backend, indexed by global
   *                        rank; only its own with tcp), bytes by {@link dev.weft.tensor.DeviceMemory.Category}
   *                        at that device's peak
   */
  public record Result(List<StepMetrics> steps, double finalValLoss, long peakBytes, long stateBytes,
                       long activationBytes, double flopsPerStep, double seconds, long tokens,
                       float[] finalParams, List<java.util.Map<String, Long>> peakByCategory) {}

  private final TrainConfig cfg;
  private final PrintStream out;
  private Path traceFile;
  private Gpt2Tokenizer tokenizer;
  private SampleSpec samples;
  private StepObserver observer;
  private java.util.function.UnaryOperator<Backend> backends = java.util.function.UnaryOperator.identity();

  public Trainer(TrainConfig cfg, PrintStream out) {
    this.cfg = cfg.validate();
    this.out = out;
  }

  /** Also write a Chrome/Perfetto trace of every rank's spans to {@code file} (null: no trace). */
  public Trainer withTrace(Path file) {
    this.traceFile = file;
    return this;
  }

  /** Encode the corpus with this GPT-2 tokenizer (null: bytes are the tokens, the default). */
  public Trainer withTokenizer(Gpt2Tokenizer tokenizerOrNull) {
    this.tokenizer = tokenizerOrNull;
    return this;
  }

  /** Also print a sample of the model every so many steps (null: none). */
  public Trainer withSamples(SampleSpec specOrNull) {
    this.samples = specOrNull;
    return this;
  }

  /** Also hand every step's full gradients and parameters to {@code o} (null: none); see {@link StepObserver}. */
  public Trainer withObserver(StepObserver o) {
    this.observer = o;
    return this;
  }

  /**
   * Runs the local ranks on {@code wrap.apply(backend)} instead of their backend: a seam for tests that inject
   * a faulty communicator (a wrong reduction) and check that parity checks catch it. Local devices only.
   */
  public Trainer withBackends(java.util.function.UnaryOperator<Backend> wrap) {
    this.backends = wrap;
    return this;
  }

  public Result run() {
    try {
      return runLayout();
    } catch (dev.weft.tensor.OutOfDeviceMemoryError e) {
      throw e.withAdvice(MemoryAdvice.advise(cfg, e.capacity()));
    }
  }

  /** One run without memory advice on running out of device memory (the advice's own trial runs use it). */
  Result runOnce() {
    return runLayout();
  }

  private Result runLayout() {
    Parallelism p = cfg.parallel();
    Duration timeout = cfg.commTimeout();
    HeapCheck.check(cfg, cfg.devices() == dev.weft.comm.Devices.TCP ? 1 : p.worldSize(), Runtime.getRuntime().maxMemory());
    if (cfg.devices() == dev.weft.comm.Devices.TCP) {
      int rank = envInt("RANK", 0);
      PrintStream log = rank == 0 ? out : quiet();
      Corpus corpus = Corpus.load(cfg.data(), log, tokenizer);
      TrainingData.check(corpus, cfg, log);
      try (TcpBackend backend = TcpBackend.connect(TcpBackend.Config.fromEnv(System.getenv(), timeout))) {
        if (backend.worldSize() != p.worldSize()) {
          throw new WeftInputException("the layout needs " + p.worldSize() + " ranks (--dp " + p.dp()
              + ") but the job has WORLD_SIZE=" + backend.worldSize() + "; start it with 'weft launch --nproc-per-node "
              + p.worldSize() + "' or change the layout.");
        }
        int localRanks = envInt("LOCAL_WORLD_SIZE", 1);
        Tracer tracer = traceFile == null ? null : new Tracer();
        Result r;
        try {
          r = new RankTrainer(cfg, backend, corpus, log, threadsPerRank(localRanks), tracer).withSamples(samples)
              .withObserver(observer).run();
        } catch (RuntimeException | Error e) {
          backend.noteFailure(e); // closing then tells the other ranks which rank failed
          throw e;
        }
        if (tracer != null) {
          Path f = rank == 0 ? traceFile : traceFile.resolveSibling(traceFile.getFileName() + ".rank" + rank);
          tracer.write(f);
        }
        return r;
      }
    }
    Corpus corpus = Corpus.load(cfg.data(), out, tokenizer);
    TrainingData.check(corpus, cfg, out);
    int world = p.worldSize();
    Result[] results = new Result[world];
    Tracer tracer = traceFile == null ? null : new Tracer();
    try {
      LocalCluster.run(world, timeout, (Backend given) -> {
        Backend backend = backends.apply(given);
        int r = backend.rank();
        results[r] = new RankTrainer(cfg, backend, corpus, r == 0 ? out : quiet(), threadsPerRank(world), tracer)
            .withSamples(samples).withObserver(observer).run();
      });
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Exception e) {
      throw new CommException(e.getMessage(), e);
    }
    List<java.util.Map<String, Long>> byCategory = new java.util.ArrayList<>();
    for (Result x : results) byCategory.add(x == null ? java.util.Map.of() : x.peakByCategory().get(0));
    Result r0 = results[0];
    Result all = new Result(r0.steps(), r0.finalValLoss(), r0.peakBytes(), r0.stateBytes(), r0.activationBytes(),
        r0.flopsPerStep(), r0.seconds(), r0.tokens(), r0.finalParams(), List.copyOf(byCategory));
    if (tracer != null) {
      tracer.write(traceFile);
      out.printf("trace written to %s (open in ui.perfetto.dev, or 'weft report --trace %s')%n", traceFile, traceFile);
    }
    return all;
  }

  private int threadsPerRank(int ranksOnThisMachine) {
    if (cfg.threads() > 0) return cfg.threads();
    return Math.max(1, Runtime.getRuntime().availableProcessors() / ranksOnThisMachine);
  }

  private static PrintStream quiet() {
    return new PrintStream(OutputStream.nullOutputStream());
  }

  private static int envInt(String name, int dflt) {
    String v = System.getenv(name);
    if (v == null || v.isBlank()) return dflt;
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new WeftInputException("environment variable " + name + "='" + v + "' is not an integer.");
    }
  }

  /**
   * Model FLOPs of one step (forward + backward): 6 per parameter per token for the matrix products (every
   * parameter but the token-embedding lookup and learned positions; see {@link ModelSpec#matmulParameters}),
   * plus attention's 12 L (H hd) T per token (PaLM appendix B: the q k^T and att v products, forward and backward,
   * counted without the causal saving).
   */
  public static double flopsPerStep(ModelSpec c, int batch, int T) {
    double tokens = (double) batch * T;
    double attention = 12.0 * c.layers() * c.heads() * c.headDim() * T;
    return tokens * (6 * (double) c.matmulParameters() + attention);
  }
}
