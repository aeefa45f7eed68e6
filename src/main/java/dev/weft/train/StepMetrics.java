package dev.weft.train;

/**
 * What one optimizer step measured; one line of the metrics JSONL (see DESIGN.md). {@code valLoss} is
 * NaN on steps without evaluation; {@code exposedCommMs} is
 * the time a rank waited for gradient communication after its backward (mean over ranks). Memory figures are bytes; {@code peakBytesPerDevice} is indexed by
 * global rank.
 */
public record StepMetrics(int step, double loss, double lr, double gradNorm, long tokens, double stepMs,
                          double tokensPerS, long peakBytes, long[] peakBytesPerDevice, double commMs,
                          long commBytes, double valLoss, double exposedCommMs) {}
