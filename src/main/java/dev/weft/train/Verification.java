package dev.weft.train;

import dev.weft.comm.Backend;
import dev.weft.comm.Devices;
import dev.weft.model.ParameterLayout;
import dev.weft.parallel.Parallelism;
import dev.weft.tensor.DeviceMemory;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * Parallel equals serial, checked on a user's own run ({@code weft verify}): the run's layout and the one-device
 * layout train from the same seed on the same data for a few steps, and every step is compared:
 * <pre>
 *   loss error      |loss_L - loss_1| / |loss_1|
 *   tensor error    ||x_L - x_1|| / ||x_1||   (Frobenius norms over one named tensor; x = the reduced gradient
 *                                             of the step, or the parameter after its update)
 * </pre>
 * against a tolerance per precision ({@link Tolerance}). The loss of every step and every tensor's gradient are
 * judged one by one; parameters over the whole model (the DESIGN contract), since AdamW divides each gradient by
 * its own running size: a gradient that is zero in exact arithmetic (GPT-2's key bias: adding a constant to every
 * key of a query shifts its scores by one constant, which softmax ignores) is rounding noise of about 1e-12, which
 * the optimizer turns into moves of lr * noise / eps that differ between layouts by about 1e-4 of the tensor (seen
 * at 0.7-0.8 of the tolerance on correct layouts). Per-tensor parameter errors are reported beside. The one-device run takes the whole batch in one
 * micro-batch and no memory limit; the layout's run is the run as given (micro-batches, ZeRO, recomputation,
 * schedule). A tensor whose reference is exactly zero counts its error as 0 when the layout's is zero too and
 * as infinite otherwise; a non-finite value is an infinite error.
 */
public final class Verification {
  /**
   * What "equal" means in a precision. fp32 is the DESIGN contract (loss 1e-5 relative, gradients and
   * parameters 1e-4 relative norm error): only the order of floating-point sums differs between layouts. In
   * bf16 (8 bits of mantissa, unit round-off 2^-9 = 2e-3) and fp16 (11 bits, 5e-4) the matrix products round
   * their inputs, and a layout that splits a product rounds different partial sums: the bounds are about ten
   * unit round-offs.
   */
  public record Tolerance(String precision, double loss, double tensor) {
    public static final Tolerance FP32 = new Tolerance("fp32", 1e-5, 1e-4);
    public static final Tolerance BF16 = new Tolerance("bf16", 1e-2, 3e-2);
    public static final Tolerance FP16 = new Tolerance("fp16", 2e-3, 1e-2);

    public Tolerance with(Double lossOrNull, Double tensorOrNull) {
      return new Tolerance(precision, lossOrNull != null ? lossOrNull : loss, tensorOrNull != null ? tensorOrNull : tensor);
    }
  }

  /**
   * One step: the two losses and their relative error; the worst tensor of the gradients and of the parameters;
   * and the parameters' error over the whole model (all tensors as one vector), which is what passes or fails.
   */
  public record Step(int step, double loss, double referenceLoss, double lossError, String worstGradient,
                     double gradientError, String worstParameter, double parameterError, double modelParameterError) {}

  /** One tensor over all steps: its largest gradient and parameter errors and the steps they were seen at. */
  public record TensorError(String name, double gradientError, int gradientStep, double parameterError,
                            int parameterStep) {}

  /** The comparison; {@link #passed()} when every error is within its tolerance. */
  public record Report(Parallelism layout, Tolerance tolerance, List<Step> steps, List<TensorError> tensors) {
    public boolean passed() {
      return worstRatio() <= 1;
    }

    /**
     * The largest error as a multiple of its tolerance: the loss of every step, every tensor's gradient of every
     * step, and the whole model's parameters after every step.
     */
    public double worstRatio() {
      double w = 0;
      for (Step s : steps) {
        w = Math.max(w, Math.max(ratio(s.lossError(), tolerance.loss()), ratio(s.modelParameterError(), tolerance.tensor())));
      }
      for (TensorError t : tensors) w = Math.max(w, ratio(t.gradientError(), tolerance.tensor()));
      return w;
    }

    /** What failed worst (or came closest), named: the loss, a tensor's gradient, or the parameters, and the step. */
    public String worst() {
      String what = "nothing";
      double w = -1;
      for (Step s : steps) {
        double r = ratio(s.lossError(), tolerance.loss());
        if (r > w) {
          w = r;
          what = String.format(Locale.ROOT, "the loss at step %d (relative error %s, tolerance %s)", s.step(),
              sci(s.lossError()), sci(tolerance.loss()));
        }
        r = ratio(s.modelParameterError(), tolerance.tensor());
        if (r > w) {
          w = r;
          what = String.format(Locale.ROOT, "the parameters after step %d (relative error %s over the model, tolerance "
              + "%s; the worst tensor %s at %s)", s.step(), sci(s.modelParameterError()), sci(tolerance.tensor()),
              s.worstParameter(), sci(s.parameterError()));
        }
      }
      for (TensorError t : tensors) {
        double r = ratio(t.gradientError(), tolerance.tensor());
        if (r > w) {
          w = r;
          what = String.format(Locale.ROOT, "the gradient of %s at step %d (relative error %s, tolerance %s)", t.name(),
              t.gradientStep(), sci(t.gradientError()), sci(tolerance.tensor()));
        }
      }
      return what;
    }

    /** The per-step lines, the per-tensor table and the verdict. */
    public void print(PrintStream out) {
      out.printf(Locale.ROOT, "tolerances (%s): loss %s relative, gradients and parameters %s relative norm error%n",
          tolerance.precision(), sci(tolerance.loss()), sci(tolerance.tensor()));
      for (Step s : steps) {
        out.printf(Locale.ROOT, "step %d: loss %.7f vs %.7f on one device, error %s %s | gradients: worst %s %s %s"
                + " | parameters: %s %s over the model, worst %s %s%n", s.step(), s.loss(), s.referenceLoss(),
            sci(s.lossError()), mark(s.lossError(), tolerance.loss()), s.worstGradient(), sci(s.gradientError()),
            mark(s.gradientError(), tolerance.tensor()), sci(s.modelParameterError()),
            mark(s.modelParameterError(), tolerance.tensor()), s.worstParameter(), sci(s.parameterError()));
      }
      int width = 6;
      for (TensorError t : tensors) width = Math.max(width, t.name().length());
      out.printf(Locale.ROOT, "%-" + width + "s  %-18s  %-18s%n", "tensor", "gradient (step)", "parameter (step)");
      for (TensorError t : tensors) {
        out.printf(Locale.ROOT, "%-" + width + "s  %-18s  %-18s%n", t.name(),
            sci(t.gradientError()) + " (" + t.gradientStep() + ")" + flag(t.gradientError(), true),
            sci(t.parameterError()) + " (" + t.parameterStep() + ")" + flag(t.parameterError(), false));
      }
      boolean above = false;
      for (TensorError t : tensors) above |= ratio(t.parameterError(), tolerance.tensor()) > 1;
      if (above) {
        out.println("note: a parameter marked 'above' differs by more than the tolerance on its own but not over the "
            + "model: AdamW divides each gradient by its own running size, so a gradient that is zero in exact "
            + "arithmetic (GPT-2's key bias) moves its parameter by rounding noise; gradients are judged per tensor.");
      }
      if (passed()) {
        out.printf(Locale.ROOT, "PASS: %s equals one device over %d step%s (the largest error is %.2g of its tolerance:"
            + " %s).%n", layout, steps.size(), steps.size() == 1 ? "" : "s", worstRatio(), worst());
      } else {
        out.printf(Locale.ROOT, "FAIL: %s differs from one device: worst is %s.%n", layout, worst());
      }
    }

    private String flag(double e, boolean judged) {
      return ratio(e, tolerance.tensor()) <= 1 ? "" : judged ? " FAIL" : " above";
    }
  }

  private Verification() {}

  /**
   * Trains {@code cfg} (its steps, no validation, no outputs) and the one-device layout of the same run, and
   * compares them step by step. {@code wrap} wraps the layout's local backends (identity but in tests);
   * {@code out} gets a line per run.
   */
  public static Report run(TrainConfig cfg, Tolerance tolerance, PrintStream out, UnaryOperator<Backend> wrap) {
    TrainConfig layoutRun = cfg.toBuilder().evalEvery(0).evalBatches(0).metrics(null).save(null).saveEvery(0)
        .resume(null).stopAfter(0).build().validate();
    TrainConfig oneDevice = layoutRun.toBuilder().parallel(Parallelism.SINGLE).microBatch(cfg.batch())
        .deviceMemory(DeviceMemory.UNLIMITED).devices(Devices.LOCAL).build().validate();
    ParameterLayout full = new ParameterLayout(cfg.model());
    int steps = cfg.steps();

    Recorder reference = new Recorder(steps);
    long t0 = System.nanoTime();
    Trainer.Result ref = new Trainer(oneDevice, quiet()).withObserver(reference).run();
    out.printf(Locale.ROOT, "one device: %d step%s in %.1f s%n", steps, steps == 1 ? "" : "s", (System.nanoTime() - t0) / 1e9);

    Comparer cmp = new Comparer(full, reference);
    t0 = System.nanoTime();
    Trainer.Result got = new Trainer(layoutRun, quiet()).withObserver(cmp).withBackends(wrap).run();
    out.printf(Locale.ROOT, "%s: %d step%s in %.1f s%n", cfg.parallel(), steps, steps == 1 ? "" : "s",
        (System.nanoTime() - t0) / 1e9);

    List<Step> rows = new ArrayList<>();
    for (int i = 0; i < steps; i++) {
      double a = got.steps().get(i).loss(), b = ref.steps().get(i).loss();
      Comparer.Worst g = cmp.gradientWorst[i], p = cmp.parameterWorst[i];
      rows.add(new Step(i + 1, a, b, relative(Math.abs(a - b), Math.abs(b), a, b), g.name(), g.error(), p.name(), p.error(),
          p.model()));
    }
    List<TensorError> tensors = new ArrayList<>();
    for (int k = 0; k < full.params().size(); k++) {
      tensors.add(new TensorError(full.params().get(k).name(), cmp.gradient[k], cmp.gradientStep[k], cmp.parameter[k],
          cmp.parameterStep[k]));
    }
    return new Report(cfg.parallel(), tolerance, rows, tensors);
  }

  /** Keeps the one-device run's gradients and parameters of every step. */
  private static final class Recorder implements StepObserver {
    final float[][] gradients, parameters;

    Recorder(int steps) {
      gradients = new float[steps][];
      parameters = new float[steps][];
    }

    @Override
    public void gradients(int step, float[] full) {
      gradients[step - 1] = full;
    }

    @Override
    public void parameters(int step, float[] full) {
      parameters[step - 1] = full;
    }
  }

  /** Compares the layout's run, as it goes, against the recorded reference: worst per step and per tensor. */
  private static final class Comparer implements StepObserver {
    /** The worst tensor of one step, and the error over the whole model. */
    record Worst(String name, double error, double model) {}

    final ParameterLayout layout;
    final Recorder ref;
    final double[] gradient, parameter;
    final int[] gradientStep, parameterStep;
    final Worst[] gradientWorst, parameterWorst;

    Comparer(ParameterLayout layout, Recorder ref) {
      this.layout = layout;
      this.ref = ref;
      int n = layout.params().size();
      gradient = new double[n];
      parameter = new double[n];
      gradientStep = new int[n];
      parameterStep = new int[n];
      java.util.Arrays.fill(gradientStep, 1);
      java.util.Arrays.fill(parameterStep, 1);
      gradientWorst = new Worst[ref.gradients.length];
      parameterWorst = new Worst[ref.gradients.length];
    }

    @Override
    public void gradients(int step, float[] full) {
      gradientWorst[step - 1] = compare(step, full, ref.gradients[step - 1], gradient, gradientStep);
    }

    @Override
    public void parameters(int step, float[] full) {
      parameterWorst[step - 1] = compare(step, full, ref.parameters[step - 1], parameter, parameterStep);
    }

    private Worst compare(int step, float[] got, float[] want, double[] worst, int[] at) {
      List<ParameterLayout.Param> ps = layout.params();
      Worst w = new Worst(ps.get(0).name(), -1, 0);
      double dAll = 0, nAll = 0;
      boolean allFinite = true;
      for (int k = 0; k < ps.size(); k++) {
        ParameterLayout.Param p = ps.get(k);
        double d = 0, n = 0;
        boolean finite = true;
        for (int i = p.offset(); i < p.offset() + p.size(); i++) {
          double x = got[i], y = want[i];
          finite &= Double.isFinite(x) && Double.isFinite(y);
          d += (x - y) * (x - y);
          n += y * y;
        }
        double e = finite ? relative(Math.sqrt(d), Math.sqrt(n), d, 0) : Double.POSITIVE_INFINITY;
        if (e > worst[k]) {
          worst[k] = e;
          at[k] = step;
        }
        if (e > w.error()) w = new Worst(p.name(), e, 0);
        dAll += d;
        nAll += n;
        allFinite &= finite;
      }
      double model = allFinite ? relative(Math.sqrt(dAll), Math.sqrt(nAll), dAll, 0) : Double.POSITIVE_INFINITY;
      return new Worst(w.name(), w.error(), model);
    }
  }

  /** diff / ref, with 0 / 0 = 0 and x / 0 = infinity; non-finite inputs are an infinite error. */
  static double relative(double diff, double ref, double a, double b) {
    if (!Double.isFinite(a) || !Double.isFinite(b) || !Double.isFinite(diff)) return Double.POSITIVE_INFINITY;
    if (ref == 0) return diff == 0 ? 0 : Double.POSITIVE_INFINITY;
    return diff / ref;
  }

  private static double ratio(double error, double tolerance) {
    return Double.isNaN(error) ? Double.POSITIVE_INFINITY : error / tolerance;
  }

  private static String sci(double v) {
    return Double.isInfinite(v) ? "inf" : String.format(Locale.ROOT, "%.1e", v);
  }

  private static String mark(double e, double tol) {
    return ratio(e, tol) <= 1 ? "ok" : "FAIL";
  }

  private static PrintStream quiet() {
    return new PrintStream(OutputStream.nullOutputStream());
  }
}
