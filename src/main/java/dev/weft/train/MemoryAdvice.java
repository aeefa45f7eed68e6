package dev.weft.train;

import dev.weft.decoder.ActivationShapes;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * When a run does not fit its devices: which layouts would, by the runtime's own allocation formulas
 * (model state 16P / 8P+8P/N / 4P+12P/N / 16P/N per device at ZeRO 0-3 with N = dp x cp and P the rank's
 * share of the parameters under tensor parallelism, plus {@link ActivationShapes} for the rank's rows),
 * first on the same number of devices, else on the fewest more. A hint for the error message, not a plan:
 * {@code weft plan} weighs speed as well.
 */
final class MemoryAdvice {
  private MemoryAdvice() {}

  record Option(int dp, int tp, int cp, int zero, long bytes) {
    String flags() {
      StringBuilder sb = new StringBuilder();
      if (dp > 1) sb.append("--dp ").append(dp).append(' ');
      if (tp > 1) sb.append("--tp ").append(tp).append(' ');
      if (cp > 1) sb.append("--cp ").append(cp).append(' ');
      if (zero > 0) sb.append("--zero ").append(zero).append(' ');
      return sb.toString().trim();
    }
  }

  static String advise(TrainConfig cfg, long capacity) {
    int world = cfg.parallel().worldSize();
    for (int devices = world; devices <= Math.max(world, 1) * 64; devices *= 2) {
      List<Option> fits = fitting(cfg, devices, capacity);
      if (!fits.isEmpty()) {
        StringBuilder sb = new StringBuilder(devices == world
            ? "Layouts of " + devices + " device" + (devices == 1 ? "" : "s") + " that would fit (by the allocation formulas): "
            : "No layout of " + world + " device" + (world == 1 ? "" : "s") + " fits; with " + devices + " devices these would: ");
        for (int i = 0; i < Math.min(3, fits.size()); i++) {
          Option o = fits.get(i);
          sb.append(i == 0 ? "" : "; ").append(o.flags().isEmpty() ? "one device" : o.flags())
              .append(" (about ").append(DeviceMemory.format(o.bytes())).append(" per device)");
        }
        return sb.append(".").toString();
      }
    }
    return "No layout of up to " + world * 64 + " devices fits " + DeviceMemory.format(capacity)
        + " per device at this micro-batch; lower --micro-batch or the context.";
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
