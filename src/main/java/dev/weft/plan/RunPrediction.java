package dev.weft.plan;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import dev.weft.parallel.Parallelism;
import dev.weft.train.TrainConfig;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The planner's prediction for the layout a training run actually uses, on this machine: the step time
 * by part ({@link TimeModel} on {@link LocalMachine#cluster} for the run's world size, with the calibration
 * of {@code weft plan --calibrate} when one was saved, else {@link Calibration#defaultLocal()}'s assumed
 * figures) and the bytes of every device by category ({@link MemoryModel#stage} with the runtime's activation
 * model, device r on pipeline stage {@code coordinate(r, PP)}). The same machinery as {@code weft bench plan}
 * ({@link RuntimeComparison}), for one run.
 */
public record RunPrediction(Layout layout, Job job, String machine, boolean calibrated, TimeModel.Breakdown time,
                            List<MemoryModel.Breakdown> memoryPerDevice) {

  /** The planner's layout for the runtime's: the same degrees, schedule, micro-batch and CP method. */
  public static Layout layoutOf(Parallelism p, int microBatch) {
    Schedule s = p.pp() == 1 ? Schedule.NONE : switch (p.schedule()) {
      case GPIPE, NAIVE -> Schedule.GPIPE;
      case ONE_F_ONE_B -> Schedule.ONE_F_ONE_B;
      case INTERLEAVED -> Schedule.INTERLEAVED;
      case ZERO_BUBBLE -> Schedule.ZB_H1;
    };
    CpAlgorithm ca = p.cpMethod() == dev.weft.parallel.cp.ContextParallel.Method.ALLTOALL
        ? CpAlgorithm.ALL_TO_ALL : CpAlgorithm.RING;
    return new Layout(p.dp(), p.tp(), p.pp(), p.cp(), p.zero(), p.sp() && p.tp() > 1, microBatch, s,
        s == Schedule.INTERLEAVED ? p.virtualStages() : 1, p.recompute() ? Recompute.FULL : Recompute.NONE, ca);
  }

  /** The prediction for {@code cfg} with the saved calibration (or the uncalibrated defaults). */
  public static RunPrediction of(TrainConfig cfg) {
    return of(cfg, Calibration.loadOrDefault(null), isCalibrated());
  }

  /** Whether this machine has a saved calibration ({@link Calibration#defaultFile}). */
  public static boolean isCalibrated() {
    return Files.isRegularFile(Calibration.defaultFile());
  }

  /** The prediction for {@code cfg} on a machine described by {@code spec}. */
  public static RunPrediction of(TrainConfig cfg, DeviceSpec spec, boolean calibrated) {
    return of(cfg.model(), cfg.batch(), cfg.parallel(), cfg.microBatch(), spec, calibrated);
  }

  /** The prediction for {@code model} at global batch {@code batch} laid out as {@code p}. */
  public static RunPrediction of(dev.weft.model.ModelSpec model, int batch, Parallelism p, int microBatch,
                                 DeviceSpec spec, boolean calibrated) {
    Layout l = layoutOf(p, microBatch);
    Job job = new Job(model, batch, Precision.FP32);
    LocalMachine machine = LocalMachine.of(spec);
    int world = l.devices();
    TimeModel.Breakdown t = TimeModel.estimate(job, l, machine.cluster(world), true);
    ParallelLayout mesh = ParallelLayout.of(l.dp(), l.pp(), l.cp(), l.tp(), world);
    List<MemoryModel.Breakdown> mem = new ArrayList<>();
    Map<Integer, MemoryModel.Breakdown> byStage = new LinkedHashMap<>();
    for (int r = 0; r < world; r++) {
      int stage = mesh.coordinate(r, Axis.PP);
      mem.add(byStage.computeIfAbsent(stage,
          s -> MemoryModel.stage(job, l, MemoryModel.ActivationModel.WEFT_RUNTIME, s)));
    }
    return new RunPrediction(l, job, spec.name(), calibrated, t, List.copyOf(mem));
  }

  /** Predicted seconds per step. */
  public double stepSeconds() {
    return time.step();
  }

  /** The predicted step by the parts {@link dev.weft.trace.StepBreakdown} measures, in milliseconds. */
  public Map<String, Double> partsMs() {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("compute", time.compute() * 1e3);
    m.put("bubble", time.bubble() * 1e3);
    m.put("dp", time.dpCommExposed() * 1e3);
    m.put("tp", time.tpComm() * 1e3);
    m.put("cp", time.cpComm() * 1e3);
    m.put("pp", time.ppComm() * 1e3);
    m.put("imbalance", 0.0);
    m.put("optimizer", time.optimizer() * 1e3);
    m.put("other", 0.0);
    return m;
  }

  /** Predicted bytes of device {@code rank} by category, keyed as {@link dev.weft.tensor.DeviceMemory.Category}. */
  public Map<String, Long> memoryByCategory(int rank) {
    MemoryModel.Breakdown b = memoryPerDevice.get(rank);
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("weights", b.weights());
    m.put("gradients", b.gradients());
    m.put("optimizer", b.optimizer());
    m.put("activations", b.activations() + b.embeddingLogits() + b.backwardScratch());
    m.put("comm_buffers", b.commBuffers());
    return m;
  }
}
