package dev.weft.train;

import dev.weft.parallel.Parallelism;
import dev.weft.WeftInputException;
import dev.weft.comm.Backend;
import dev.weft.comm.CommException;
import dev.weft.comm.Communicator;
import dev.weft.comm.Devices;
import dev.weft.comm.LocalCluster;
import dev.weft.comm.ReduceOp;
import dev.weft.comm.TcpBackend;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import dev.weft.decoder.Activations;
import dev.weft.decoder.Decoder;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.cp.ContextParallel;
import dev.weft.parallel.dp.ZeroWeights;
import dev.weft.parallel.tp.TensorParallel;
import dev.weft.parallel.tp.TpGather;
import dev.weft.tensor.DeviceMemory;
import java.time.Duration;

/**
 * One forward and backward of given weights on given tokens under a device layout, returning the mean loss
 * and the full gradient gathered from all ranks: what {@code weft grads} writes, and what parity tests
 * compare between layouts. The [B, T+1] tokens are split over the data-parallel replicas (B must divide);
 * {@code layout} and {@code weights} are the full (tp = 1) ones, each tensor-parallel rank cuts its slices.
 */
public final class Gradients {
  /** The loss (mean over B*T positions) and the flat gradient of every parameter. */
  public record Result(float loss, float[] grads) {}

  /**
   * How the forward and backward run: the layout, sequences per micro-batch (0: the whole replica batch, or one
   * sequence per micro-batch through a pipeline), ranks as threads or launched processes, the communication
   * timeout, compute threads per device (0: the cores shared out) and the matrix multiply.
   */
  public record Options(Parallelism parallel, int microBatch, Devices devices, Duration commTimeout, int threads,
                        String gemm) {
    public static Options of(Parallelism parallel) {
      return new Options(parallel, 0, Devices.LOCAL, Duration.ofSeconds(60), 0, "vector");
    }

    public Options withMicroBatch(int mb) {
      return new Options(parallel, mb, devices, commTimeout, threads, gemm);
    }

    public Options withThreads(int t) {
      return new Options(parallel, microBatch, devices, commTimeout, t, gemm);
    }
  }

  private Gradients() {}

  /** One forward and backward under {@code par} on local ranks with {@code threads} each. */
  public static Result compute(ParameterLayout layout, float[] weights, int[] tokens, int B, int T,
                               Parallelism par, int threads, String gemm) {
    return compute(layout, weights, tokens, B, T, new Options(par, 0, Devices.LOCAL, Duration.ofSeconds(60), threads,
        gemm));
  }

  public static Result compute(ParameterLayout layout, float[] weights, int[] tokens, int B, int T, Options o) {
    Parallelism par = o.parallel().validate();
    layout.spec().checkTensorParallel(par.tp());
    if (par.cp() > 1) {
      dev.weft.parallel.cp.CpLayout.check(T, par.cp(), dev.weft.parallel.cp.CpLayout.kind(par.cpMethod()));
    }
    if (B % par.dp() != 0) {
      throw new WeftInputException("the " + B + " sequences of the tokens cannot be split over --dp " + par.dp()
          + " replicas; give a multiple of " + par.dp() + " sequences or another --dp.");
    }
    int rows = B / par.dp();
    int mb = o.microBatch() > 0 ? o.microBatch() : par.pp() > 1 ? 1 : rows;
    if (rows % mb != 0) {
      throw new WeftInputException("each replica's " + rows + " sequences do not divide into micro-batches of " + mb
          + "; choose a --micro-batch that divides " + rows + ".");
    }
    Duration timeout = o.commTimeout();
    Result[] results = new Result[par.worldSize()];
    if (o.devices() == Devices.TCP) {
      try (TcpBackend b = TcpBackend.connect(TcpBackend.Config.fromEnv(System.getenv(), timeout))) {
        if (b.worldSize() != par.worldSize()) {
          throw new WeftInputException("the layout needs " + par.worldSize() + " ranks but the job has WORLD_SIZE="
              + b.worldSize() + ".");
        }
        try {
          return onRank(b, layout, weights, tokens, B, T, par, mb, o.threads(), o.gemm());
        } catch (RuntimeException | Error e) {
          b.noteFailure(e); // closing then tells the other ranks which rank failed
          throw e;
        }
      }
    }
    int th = o.threads() > 0 ? o.threads() : Math.max(1, Runtime.getRuntime().availableProcessors() / par.worldSize());
    try {
      LocalCluster.run(par.worldSize(), timeout,
          b -> results[b.rank()] = onRank(b, layout, weights, tokens, B, T, par, mb, th, o.gemm()));
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Exception e) {
      throw new CommException(e.getMessage(), e);
    }
    return results[0];
  }

  private static Result onRank(Backend backend, ParameterLayout layout, float[] weights, int[] tokens, int B, int T,
                               Parallelism par, int mb, int threads, String gemm) {
    int rank = backend.rank();
    ParallelLayout mesh = ParallelLayout.of(par.dp(), par.pp(), par.cp(), par.tp(), backend.worldSize());
    Communicator dp = backend.group(mesh.groupRanks(rank, Axis.DP, Axis.CP));
    ContextParallel cp = par.cp() == 1 ? ContextParallel.NONE
        : new ContextParallel(backend.group(mesh.groupRanks(rank, Axis.CP)), par.cpMethod());
    TensorParallel tp = par.tp() == 1 ? TensorParallel.NONE
        : new TensorParallel(backend.group(mesh.groupRanks(rank, Axis.TP)), par.sp());
    TrainConfig cfg = TrainConfig.builder(layout.spec()).steps(1).batch(B).microBatch(mb).threads(threads).gemm(gemm)
        .parallel(par).build().validate();
    PipelineRank pipe = par.pp() == 1 ? null : new PipelineRank(backend, mesh, cfg, T);
    ParameterLayout local = pipe == null ? new ParameterLayout(layout.spec(), par.tp(), tp.rank())
        : new ParameterLayout(layout.spec(), par.tp(), tp.rank(), pipe.layers(layout.spec().layers()), pipe.first(),
            pipe.last());
    DeviceMemory memory = DeviceMemory.unlimited("device " + rank);
    int rows = B / par.dp();
    int replica = mesh.coordinate(rank, Axis.DP);
    float scale = 1f / (B * (float) T);
    try (Compute cx = new Compute(threads, Gemm.byName(gemm))) {
      ZeroWeights w = new ZeroWeights(par.zero(), local, dp, memory);
      if (pipe != null) {
        try (Decoder model = new Decoder(local, cx, memory, w, tp, cp)) {
          pipe.attach(model, memory);
          w.loadFull(TpGather.localPart(local, weights));
          w.zeroGrad();
          int[] mine = java.util.Arrays.copyOfRange(tokens, replica * rows * (T + 1), (replica + 1) * rows * (T + 1));
          float[] loss = {(float) pipe.step(w, mine, scale, null, rank)};
          dp.allReduce(loss, 0, 1, ReduceOp.AVG);
          float[] full = TpGather.assemble(tp, local, w.gatherFullGrads());
          pipe.close();
          return new Result(loss[0], pipe.assemble(layout, full));
        }
      }
      try (Decoder model = new Decoder(local, cx, memory, w, tp, cp);
           Activations act = model.newActivations(mb, T / par.cp(), par.recompute())) {
        w.loadFull(TpGather.localPart(local, weights));
        w.zeroGrad();
        int k = rows / mb;
        double sum = 0;
        for (int i = 0; i < k; i++) {
          w.setLastMicroBatch(i == k - 1);
          sum += model.forward(act, tokens, replica * rows + i * mb, scale);
          model.backward(act);
        }
        w.finishBackward();
        float[] loss = {(float) (sum / k)};
        dp.allReduce(loss, 0, 1, ReduceOp.AVG);
        return new Result(loss[0], TpGather.assemble(tp, local, w.gatherFullGrads()));
      }
    }
  }
}
