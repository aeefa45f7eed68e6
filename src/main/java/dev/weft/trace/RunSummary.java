package dev.weft.trace;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.weft.plan.RunPrediction;
import dev.weft.train.StepMetrics;
import dev.weft.train.TrainConfig;
import dev.weft.train.Trainer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a finished run measured, beside the planner's prediction for its layout: the {@code summary.json}
 * of a run folder and the figures of the end-of-run summary. Step time is the median over the steady
 * steps (all but the first, JIT warm-up, when there are more than two); tokens/s and model GFLOP/s are
 * totals over those steps; MFU is model GFLOP/s over the machine's measured fp32 matmul peak (absent when
 * not measured). Memory: each device's peak, and its bytes by category at that peak (only the devices this
 * process saw: all on the local backend). {@code ratio}s are measured / predicted.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunSummary(
    @JsonProperty("steps") int steps,
    @JsonProperty("tokens") long tokens,
    @JsonProperty("seconds") double seconds,
    @JsonProperty("step_ms") double stepMs,
    @JsonProperty("tokens_per_s") double tokensPerS,
    @JsonProperty("model_gflops_per_s") double modelGflopsPerS,
    @JsonProperty("mfu") Double mfu,
    @JsonProperty("matmul_peak_gflops") Double matmulPeakGflops,
    @JsonProperty("final_loss") double finalLoss,
    @JsonProperty("final_val_loss") Double finalValLoss,
    @JsonProperty("peak_bytes_per_device") long[] peakBytesPerDevice,
    @JsonProperty("peak_bytes_by_category_per_device") List<Map<String, Long>> peakByCategory,
    @JsonProperty("prediction") Prediction prediction) {

  /** The planner's figures for the run's layout, or the reason there are none ({@code error}). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Prediction(
      @JsonProperty("machine") String machine,
      @JsonProperty("calibrated") Boolean calibrated,
      @JsonProperty("layout") String layout,
      @JsonProperty("step_ms") Double stepMs,
      @JsonProperty("step_ratio") Double stepRatio,
      @JsonProperty("parts_ms") Map<String, Double> partsMs,
      @JsonProperty("bytes_per_device") long[] bytesPerDevice,
      @JsonProperty("bytes_by_category_per_device") List<Map<String, Long>> bytesByCategory,
      @JsonProperty("error") String error) {

    static Prediction failed(String why) {
      return new Prediction(null, null, null, null, null, null, null, null, why);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** The first step counted as steady: 1 (skipping the warm-up step) when there are more than two. */
  public static int firstSteady(int steps) {
    return steps > 2 ? 1 : 0;
  }

  /** Median of the steady steps' times, ms. */
  public static double medianStepMs(List<StepMetrics> steps) {
    double[] ms = steps.subList(firstSteady(steps.size()), steps.size()).stream()
        .mapToDouble(StepMetrics::stepMs).sorted().toArray();
    if (ms.length == 0) return Double.NaN;
    return ms.length % 2 == 1 ? ms[ms.length / 2] : (ms[ms.length / 2 - 1] + ms[ms.length / 2]) / 2;
  }

  /**
   * The summary of run {@code r} of {@code cfg}; {@code peakGflops} the measured matmul peak (NaN: no MFU);
   * {@code prediction} null when the planner could not predict (then {@code predictionError} says why).
   */
  public static RunSummary of(TrainConfig cfg, Trainer.Result r, double peakGflops, RunPrediction prediction,
                              String predictionError) {
    List<StepMetrics> steps = r.steps();
    StepMetrics last = steps.get(steps.size() - 1);
    int from = firstSteady(steps.size());
    double ms = 0;
    long tokens = 0;
    for (int i = from; i < steps.size(); i++) {
      ms += steps.get(i).stepMs();
      tokens += steps.get(i).tokens();
    }
    double tokPerS = tokens / (ms / 1e3);
    double gflops = r.flopsPerStep() * (steps.size() - from) / (ms / 1e3) / 1e9;
    double median = medianStepMs(steps);
    long[] peaks = last.peakBytesPerDevice().clone();
    Prediction p;
    if (prediction == null) {
      p = Prediction.failed(predictionError);
    } else {
      long[] bytes = new long[prediction.memoryPerDevice().size()];
      List<Map<String, Long>> cats = new ArrayList<>();
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] = prediction.memoryPerDevice().get(i).total();
        cats.add(prediction.memoryByCategory(i));
      }
      double predMs = prediction.stepSeconds() * 1e3;
      p = new Prediction(prediction.machine(), prediction.calibrated(), prediction.layout().toString(), predMs,
          median / predMs, prediction.partsMs(), bytes, cats, null);
    }
    boolean mfu = Double.isFinite(peakGflops) && peakGflops > 0;
    return new RunSummary(steps.size(), r.tokens(), r.seconds(), median, tokPerS, gflops, mfu ? gflops / peakGflops : null,
        mfu ? peakGflops : null, last.loss(), Double.isNaN(r.finalValLoss()) ? null : r.finalValLoss(), peaks,
        r.peakByCategory(), p);
  }

  /** As pretty JSON. */
  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads a summary.json (unknown fields ignored). */
  public static RunSummary parse(String json) throws java.io.IOException {
    return JSON.copy().configure(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
        .readValue(json, RunSummary.class);
  }
}
