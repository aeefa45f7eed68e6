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

  /** A lease on this pool for one operation: names its tensors {@code prefix + name}. */
  public Lease lease(String prefix) {
    return new Lease(prefix);
  }

  /**
   * The tensors one operation takes from the pool (a collective's or an attention call's buffers): each
   * given back early by {@link #give(float[])} once used, the rest by {@link #close} when the operation
   * ends, however it ends. Not thread-safe: one operation's.
   */
  public final class Lease implements AutoCloseable {
    private final String prefix;
    private final java.util.List<Tensor> held = new java.util.ArrayList<>();

    private Lease(String prefix) {
      this.prefix = prefix;
    }

    /** An array of n floats charged to the device until given back; not zeroed. */
    public float[] take(String name, int n) {
      Tensor t = BufferPool.this.take(prefix + name, n, false);
      held.add(t);
      return t.data();
    }

    /** Gives back the tensor of {@code array} (taken from this lease) now. */
    public void give(float[] array) {
      for (int i = 0; i < held.size(); i++) {
        if (held.get(i).data() == array) {
          BufferPool.this.give(held.remove(i));
          return;
        }
      }
      throw new IllegalArgumentException("not an array of this lease");
    }

    @Override
    public void close() {
      for (Tensor t : held) BufferPool.this.give(t);
      held.clear();
    }
  }

  /** Drops every kept array. */
  public synchronized void clear() {
    free.clear();
  }
}
