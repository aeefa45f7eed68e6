package dev.weft.plan;

/**
 * A communication link in the alpha-beta model: sending n bytes costs {@code latency + n / bandwidth}
 * seconds (Hockney 1994). Bandwidth is bytes per second per direction per device ("bus bandwidth" in
 * nccl-tests' terms), latency in seconds per message step.
 */
public record Link(String name, double bytesPerSecond, double latencySeconds) {
}
