package dev.weft.train;

/**
 * Learning rate per optimizer step (steps count from 1): linear warm-up from lr/warmup to lr over
 * {@code warmup} steps, then cosine decay to {@code minLr} at {@code total} steps:
 * {@code lr(s) = minLr + 0.5 (lr - minLr) (1 + cos(pi (s - warmup) / (total - warmup)))}.
 */
public record LrSchedule(double lr, double minLr, int warmup, int total) {
  public double at(int step) {
    if (warmup > 0 && step <= warmup) return lr * step / warmup;
    if (total <= warmup) return lr;
    double progress = Math.min(1.0, (double) (step - warmup) / (total - warmup));
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
  }
}
