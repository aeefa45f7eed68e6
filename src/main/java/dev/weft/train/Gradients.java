package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.comm.Backend;
import dev.weft.comm.CommException;
import dev.weft.comm.Communicator;
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

  private Gradients() {}

  public static Result compute(ParameterLayout layout, float[] weights, int[] tokens, int B, int T,
                               TrainConfig.Parallelism par, int threads, String gemm) {
    par.validate();
    layout.spec().checkTensorParallel(par.tp());
    if (par.cp() > 1) {
      dev.weft.parallel.cp.CpLayout.check(T, par.cp(), dev.weft.parallel.cp.CpLayout.kind(par.cpMethod()));
    }
    if (B % par.dp() != 0) {
      throw new WeftInputException("the " + B + " sequences of the tokens cannot be split over --dp " + par.dp()
          + " replicas; give a multiple of " + par.dp() + " sequences or another --dp.");
    }
    Duration timeout = Duration.ofSeconds(par.commTimeoutSec());
    Result[] results = new Result[par.worldSize()];
    if (par.devices().equals("tcp")) {
      try (TcpBackend b = TcpBackend.connect(TcpBackend.Config.fromEnv(System.getenv(), timeout))) {
        if (b.worldSize() != par.worldSize()) {
          throw new WeftInputException("the layout needs " + par.worldSize() + " ranks but the job has WORLD_SIZE="
              + b.worldSize() + ".");
        }
        try {
          return onRank(b, layout, weights, tokens, B, T, par, threads, gemm);
        } catch (RuntimeException | Error e) {
          b.noteFailure(e); // closing then tells the other ranks which rank failed
          throw e;
        }
      }
    }
    int th = threads > 0 ? threads : Math.max(1, Runtime.getRuntime().availableProcessors() / par.worldSize());
    try {
      LocalCluster.run(par.worldSize(), timeout,
          b -> results[b.rank()] = onRank(b, layout, weights, tokens, B, T, par, th, gemm));
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Exception e) {
      throw new CommException(e.getMessage(), e);
    }
    return results[0];
  }

  private static Result onRank(Backend backend, ParameterLayout layout, float[] weights, int[] tokens, int B, int T,
                               TrainConfig.Parallelism par, int threads, String gemm) {
    int rank = backend.rank();
    ParallelLayout mesh = ParallelLayout.of(par.dp(), par.pp(), par.cp(), par.tp(), backend.worldSize());
    Communicator dp = backend.group(mesh.groupRanks(rank, Axis.DP, Axis.CP));
    ContextParallel cp = par.cp() == 1 ? ContextParallel.NONE
        : new ContextParallel(backend.group(mesh.groupRanks(rank, Axis.CP)), par.cpMethod());
    TensorParallel tp = par.tp() == 1 ? TensorParallel.NONE
        : new TensorParallel(backend.group(mesh.groupRanks(rank, Axis.TP)), par.sp());
    // A pipeline runs the rows as micro-batches of one sequence through its schedule.
    PipelineRank pipe = par.pp() == 1 ? null : new PipelineRank(backend, mesh, new TrainConfig(layout.spec(), 1, 0, B, 1,
        1e-3, 0.1, 0, 0, 0, 0, 0, 0, threads, gemm, DeviceMemory.UNLIMITED, null, null, null, 0, null, null, par).validate(), T);
    ParameterLayout local = pipe == null ? new ParameterLayout(layout.spec(), par.tp(), tp.rank())
        : new ParameterLayout(layout.spec(), par.tp(), tp.rank(), pipe.layers(layout.spec().layers()), pipe.first(),
            pipe.last());
    DeviceMemory memory = DeviceMemory.unlimited("device " + rank);
    int rows = B / par.dp();
    int replica = mesh.coordinate(rank, Axis.DP);
    try (Compute cx = new Compute(threads, Gemm.byName(gemm))) {
      ZeroWeights w = new ZeroWeights(par.zero(), local, dp, memory);
      if (pipe != null) {
        try (Decoder model = new Decoder(local, cx, memory, w, tp, cp)) {
          pipe.attach(model, memory);
          w.loadFull(TpGather.localPart(local, weights));
          w.zeroGrad();
          int[] mine = java.util.Arrays.copyOfRange(tokens, replica * rows * (T + 1), (replica + 1) * rows * (T + 1));
          float[] loss = {(float) pipe.step(w, mine, 1f / (B * (float) T), null, rank)};
          dp.allReduce(loss, 0, 1, ReduceOp.AVG);
          float[] full = TpGather.assemble(tp, local, w.gatherFullGrads());
          pipe.close();
          return new Result(loss[0], pipe.assemble(layout, full));
        }
      }
      try (Decoder model = new Decoder(local, cx, memory, w, tp, cp); Activations act = model.newActivations(rows, T / par.cp(), par.recompute())) {
        w.loadFull(TpGather.localPart(local, weights));
        w.zeroGrad();
        w.setLastMicroBatch(true);
        float[] loss = {model.forward(act, tokens, replica * rows, 1f / (B * (float) T))};
        model.backward(act);
        w.finishBackward();
        dp.allReduce(loss, 0, 1, ReduceOp.AVG);
        return new Result(loss[0], TpGather.assemble(tp, local, w.gatherFullGrads()));
      }
    }
  }
}
