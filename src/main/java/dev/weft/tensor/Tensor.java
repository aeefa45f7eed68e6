package dev.weft.tensor;

import java.util.Arrays;

/**
 * A float32, row-major tensor living on one device. The data is a plain {@code float[]} (kernels work on
 * it directly, llm.c style); its bytes are charged to the owning {@link DeviceMemory} when created and
 * returned by {@link #close()}. A tensor must be closed exactly once when it is no longer needed.
 */
public final class Tensor implements AutoCloseable {
  private final String name;
  private final int[] shape;
  private final float[] data;
  private final DeviceMemory memory;
  private boolean closed;

  private Tensor(DeviceMemory memory, String name, int[] shape, float[] data) {
    this.memory = memory;
    this.name = name;
    this.shape = shape;
    this.data = data;
  }

  /** A new zero-filled tensor charged to {@code memory}. */
  public static Tensor zeros(DeviceMemory memory, String name, int... shape) {
    long n = numel(shape);
    if (n > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(name + ": " + Arrays.toString(shape) + " has more than 2^31 elements");
    }
    memory.allocate(n * Float.BYTES, name);
    try {
      return new Tensor(memory, name, shape.clone(), new float[(int) n]);
    } catch (OutOfMemoryError e) {
      memory.release(n * Float.BYTES, name);
      throw e;
    }
  }

  /** A tensor over an existing array (e.g. from a {@link BufferPool}), charged to {@code memory} now. */
  public static Tensor wrap(DeviceMemory memory, String name, float[] data, int... shape) {
    if (numel(shape) != data.length) {
      throw new IllegalArgumentException(name + ": " + data.length + " values for shape " + Arrays.toString(shape));
    }
    memory.allocate((long) data.length * Float.BYTES, name);
    return new Tensor(memory, name, shape.clone(), data);
  }

  /** Copies {@code values} into a new tensor of the given shape. */
  public static Tensor of(DeviceMemory memory, String name, float[] values, int... shape) {
    Tensor t = zeros(memory, name, shape);
    if (values.length != t.data.length) {
      t.close();
      throw new IllegalArgumentException(name + ": " + values.length + " values for shape " + Arrays.toString(shape));
    }
    System.arraycopy(values, 0, t.data, 0, values.length);
    return t;
  }

  public static long numel(int... shape) {
    long n = 1;
    for (int d : shape) {
      if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      n *= d;
    }
    return n;
  }

  public String name() { return name; }
  public int[] shape() { return shape.clone(); }
  public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }
  public int rank() { return shape.length; }
  public int size() { return data.length; }
  public long bytes() { return (long) data.length * Float.BYTES; }
  public float[] data() { return data; }
  public DeviceMemory memory() { return memory; }

  public void zero() { Arrays.fill(data, 0f); }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      memory.release(bytes(), name);
    }
  }

  @Override
  public String toString() {
    return name + Arrays.toString(shape);
  }
}
