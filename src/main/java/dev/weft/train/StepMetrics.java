package dev.weft.train;

/**
 * What one optimizer step measured; one line of the metrics JSONL (see DESIGN.md and the README's list).
 * {@code valLoss} is NaN on steps without evaluation. {@code commMs} is the time every communication op of
 * the step ran (collectives and point-to-point, in every group but the world's; async ops on their comm
 * thread, possibly overlapping compute), summed over ranks; {@code exposedCommMs} is the part of it during
 * which the ranks were blocked waiting for it (all of a blocking op, the rest of an async op once awaited),
 * summed over ranks, so never more than {@code commMs}; {@code commBytes} the bytes the ranks moved. Memory
 * figures are bytes; {@code peakBytesPerDevice} is indexed by global rank.
 */
public record StepMetrics(int step, double loss, double lr, double gradNorm, long tokens, double stepMs,
                          double tokensPerS, long peakBytes, long[] peakBytesPerDevice, double commMs,
                          long commBytes, double valLoss, double exposedCommMs) {}
