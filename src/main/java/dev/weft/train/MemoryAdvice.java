package dev.weft.train;

import dev.weft.comm.Devices;
import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.Parallelism;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.OutOfDeviceMemoryError;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * When a run does not fit its devices: which layouts would, proved by the accounting that runs the job. Candidates
 * come from the runtime's allocation formulas (model state 16P / 8P+8P/N / 4P+12P/N / 16P/N per device at ZeRO 0-3
 * with N = dp x cp and P the rank's share of the parameters under tensor parallelism, plus {@link ActivationShapes}
 * for the rank's rows), which leave out transient buffers (gathered ZeRO regions, communication and attention
 * buffers); each candidate is then run for one step in this JVM on devices of the same capacity, and only those that
 * finish without running out of device memory are printed: first on the same number of devices, else on the fewest
 * more. A hint for the error message, not a plan: {@code weft plan} weighs speed as well.
 */
final class MemoryAdvice {
  private MemoryAdvice() {}

  /** At most this many one-step trial runs per piece of advice. */
  static final int MAX_TRIALS = 12;
  /** Suggestions printed. */
  static final int SHOWN = 3;

  record Option(int dp, int tp, int cp, int zero, long bytes) {
  }

  /** A layout that ran: its flags (as {@code weft train} takes them) and the peak it measured per device. */
  record Proven(String flags, long peakBytes) {
  }

  static String advise(TrainConfig cfg, long capacity) {
    int world = cfg.parallel().worldSize();
    int trials = 0;
    for (int devices = world; devices <= Math.max(world, 1) * 64 && trials < MAX_TRIALS; devices *= 2) {
      List<Proven> proven = new ArrayList<>();
      for (Option o : fitting(cfg, devices, capacity)) {
        if (proven.size() == SHOWN || trials == MAX_TRIALS) break;
        trials++;
        Proven p = trial(cfg, o, capacity);
        if (p != null) proven.add(p);
      }
      if (!proven.isEmpty()) {
        StringBuilder sb = new StringBuilder(devices == world
            ? "Layouts of " + devices + " device" + (devices == 1 ? "" : "s") + " that fit (each ran a step here): "
            : "No layout of " + world + " device" + (world == 1 ? "" : "s") + " fits; with " + devices
              + " devices these do (each ran a step here): ");
        for (int i = 0; i < proven.size(); i++) {
          Proven p = proven.get(i);
          sb.append(i == 0 ? "" : "; ").append(p.flags().isEmpty() ? "one device" : p.flags())
              .append(" (peak ").append(DeviceMemory.format(p.peakBytes())).append(" per device)");
        }
        return sb.append(".").toString();
      }
    }
    return "None of the " + trials + " layouts tried (up to " + world * 64 + " devices, each run for a step) fits "
        + DeviceMemory.format(capacity) + " per device at this micro-batch; lower --micro-batch or the context, or "
        + "give the devices more memory.";
  }

  /** The run of {@code cfg} laid out as {@code o}: one step, nothing written, local devices of {@code capacity}. */
  static TrainConfig trialConfig(TrainConfig cfg, Option o, long capacity) {
    Parallelism user = cfg.parallel();
    Parallelism p = Parallelism.builder().dp(o.dp()).tp(o.tp()).cp(o.cp()).zero(o.zero()).sp(user.sp() && o.tp() > 1)
        .cpMethod(user.cpMethod()).recompute(user.recompute()).build();
    int mb = Math.min(cfg.microBatch(), cfg.batch() / o.dp());
    return cfg.toBuilder().parallel(p).microBatch(mb).steps(1).stopAfter(0).warmup(0).evalEvery(0).evalBatches(0)
        .metrics(null).save(null).saveEvery(0).resume(null).init(null).devices(Devices.LOCAL).deviceMemory(capacity)
        .build();
  }

  /** Runs the trial; the layout's flags and measured peak when it fits, null when it does not (or cannot run). */
  static Proven trial(TrainConfig cfg, Option o, long capacity) {
    TrainConfig t = trialConfig(cfg, o, capacity);
    try {
      Trainer.Result r = new Trainer(t.validate(), new PrintStream(OutputStream.nullOutputStream())).runOnce();
      String flags = t.parallel().flags();
      if (t.microBatch() != cfg.microBatch()) flags = (flags + " --micro-batch " + t.microBatch()).trim();
      return new Proven(flags, r.peakBytes());
    } catch (OutOfDeviceMemoryError e) {
      return null; // does not fit
    } catch (RuntimeException e) {
      return null; // cannot be shown to fit here (a layout this run refuses, a failed rank): not suggested
    }
  }

  static List<Option> fitting(TrainConfig cfg, int devices, long capacity) {
    ModelSpec m = cfg.model();
    List<Option> out = new ArrayList<>();
    for (int tp = 1; tp <= devices; tp++) {
      if (devices % tp != 0 || m.heads() % tp != 0 || m.kvHeads() % tp != 0 || m.ffn() % tp != 0) continue;
      for (int cp = 1; tp * cp <= devices; cp++) {
        if ((devices / tp) % cp != 0 || m.context() % (2 * cp) != 0 && cp > 1) continue;
        int dp = devices / tp / cp;
        if (cfg.batch() % dp != 0) continue;
        int mb = Math.min(cfg.microBatch(), cfg.batch() / dp);
        ParameterLayout local = new ParameterLayout(m, tp, 0);
        long acts = Float.BYTES * new ActivationShapes(m, mb, m.context() / cp, tp, false).totalFloats(m.layers(), false);
        for (int zero = 0; zero <= 3; zero++) {
          if (dp * cp == 1 && zero > 0) continue;
          long state = RankTrainer.stateBytesByHand(local.total(), dp * cp, zero);
          long bytes = state + acts;
          if (bytes <= capacity * 0.97) out.add(new Option(dp, tp, cp, zero, bytes));
        }
      }
    }
    // Prefer the least communication: plain data parallelism, then lower ZeRO stages, then tensor, then context.
    out.sort(Comparator.comparingInt((Option o) -> o.tp() * 10 + o.cp() * 100).thenComparingInt(Option::zero));
    return out;
  }
}
