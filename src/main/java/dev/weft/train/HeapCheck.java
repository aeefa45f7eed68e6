package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.Parallelism;
import dev.weft.tensor.DeviceMemory;
import java.lang.management.ManagementFactory;

/**
 * The up-front check of a run against the JVM's heap, before anything is allocated: every rank of a local run
 * lives in this JVM (one rank per process with {@code --devices tcp}), and each needs at least its model state by
 * the runtime's own formula ({@link RankTrainer#stateBytesByHand}: 16P, 8P + 8P/N, 4P + 12P/N or 16P/N bytes at
 * ZeRO 0-3, P its share of the parameters under tp and pp, N = dp x cp) plus its stored activations for one
 * micro-batch ({@link ActivationShapes}). When that lower bound exceeds {@link Runtime#maxMemory()}, the run
 * would die minutes later with an OutOfMemoryError; it is refused as bad input with the fix instead:
 * {@code WEFT_JAVA_OPTS=-Xmx...} (the ./weft launcher passes it to the JVM), or a smaller model or micro-batch.
 */
public final class HeapCheck {
  private HeapCheck() {}

  /** Bytes of one rank's model state and activations, {state, activations}. */
  public static long[] rankBytes(TrainConfig cfg) {
    ModelSpec m = cfg.model();
    Parallelism p = cfg.parallel();
    long params = new ParameterLayout(m, p.tp(), 0).total() / p.pp();
    long state = RankTrainer.stateBytesByHand(params, p.dp() * p.cp(), p.zero());
    int layers = (m.layers() + p.pp() - 1) / p.pp();
    long acts = Float.BYTES * new ActivationShapes(m, cfg.microBatch(), m.context() / p.cp(), p.tp(), p.sp())
        .totalFloats(layers, p.recompute());
    return new long[] {state, acts};
  }

  /**
   * Refuses {@code cfg} when {@code ranksInThisJvm} ranks' state and activations exceed {@code maxHeap} bytes,
   * naming what is needed, what the heap allows and the fix.
   */
  public static void check(TrainConfig cfg, int ranksInThisJvm, long maxHeap) {
    long[] r = rankBytes(cfg);
    long need = ranksInThisJvm * (r[0] + r[1]);
    if (need <= maxHeap) return;
    long suggestGiB = Math.max(1, (long) Math.ceil(need * 1.25 / (1L << 30)));
    long ram = physicalMemory();
    String ranks = ranksInThisJvm == 1 ? "" : ranksInThisJvm + " ranks x (";
    throw new WeftInputException("this run needs at least " + DeviceMemory.format(need) + " of Java heap ("
        + ranks + "model state " + DeviceMemory.format(r[0]) + " + activations " + DeviceMemory.format(r[1])
        + (ranksInThisJvm == 1 ? "" : ")") + " for " + cfg.model() + ") but the JVM may use at most "
        + DeviceMemory.format(maxHeap) + ". Give it more with WEFT_JAVA_OPTS=-Xmx" + suggestGiB + "g ./weft train ..."
        + (ram > 0 && suggestGiB * (1L << 30) > ram ? " (more than this machine's " + DeviceMemory.format(ram)
        + " of RAM: spread the ranks over machines with weft launch --devices tcp)" : "")
        + ", or make the run smaller: --layers, --d-model, --micro-batch, --context, or --zero / --tp to shard the"
        + " model state over several devices' processes.");
  }

  /** This machine's RAM in bytes, or 0 when the JVM does not say. */
  static long physicalMemory() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return os.getTotalMemorySize();
    }
    return 0;
  }
}
