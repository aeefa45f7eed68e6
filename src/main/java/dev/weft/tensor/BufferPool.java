package dev.weft.tensor;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Reuses the arrays of short-lived tensors of recurring sizes (ZeRO's gathered layers, gradient buckets and
 * collective pieces, taken and given back every micro-batch), so that the Java heap does not churn through
 * hundreds of megabytes of large arrays per step. The device is still charged on every take and credited on
 * every give, exactly as if the tensor were new: pooling changes where the bytes come from, not what the
 * device holds. Not shared between devices; thread-safe.
 */
public final class BufferPool {
  private final DeviceMemory memory;
  private final Map<Integer, ArrayDeque<float[]>> free = new HashMap<>();

  public BufferPool(DeviceMemory memory) {
    this.memory = memory;
  }

  /** A tensor of {@code n} floats charged to the device; zero-filled only if {@code zero}. */
  public synchronized Tensor take(String name, int n, boolean zero) {
    ArrayDeque<float[]> q = free.get(n);
    float[] a = q == null ? null : q.poll();
    if (a == null) return Tensor.zeros(memory, name, n);
    Tensor t;
    try {
      t = Tensor.wrap(memory, name, a, n);
    } catch (RuntimeException e) {
      q.push(a);
      throw e;
    }
    if (zero) java.util.Arrays.fill(a, 0f);
    return t;
  }

  /** Returns the tensor's bytes to the device and keeps its array for the next take of that size. */
  public synchronized void give(Tensor t) {
    t.close();
    free.computeIfAbsent(t.size(), k -> new ArrayDeque<>()).push(t.data());
  }

  /** Drops every kept array. */
  public synchronized void clear() {
    free.clear();
  }
}
