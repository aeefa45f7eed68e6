package dev.weft.tensor;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory of one device (one rank), counted like a GPU's: every tensor the rank allocates is charged
 * here, going over the capacity raises {@link OutOfDeviceMemoryError}, and the peak is tracked.
 *
 * <p>Thread-safe: a rank's compute threads and its communication thread may allocate concurrently.
 */
public final class DeviceMemory {
  /** Capacity meaning "no limit". */
  public static final long UNLIMITED = Long.MAX_VALUE;

  private final String device;
  private final long capacity;
  private final AtomicLong inUse = new AtomicLong();
  private final AtomicLong peak = new AtomicLong();
  /** Bytes in use by {@link Category}, and their values at the moment of the peak (guarded by {@code this}). */
  private final long[] byCategory = new long[Category.values().length];
  private final long[] atPeak = new long[Category.values().length];
  private long peakSeen;

  /**
   * What an allocation is for, read from its name: {@code param.*} weights, {@code grad.*} gradients,
   * {@code adam.*} optimizer moments, {@code comm.*} and the pipeline's {@code pp *} send/receive buffers
   * communication buffers, anything else activations (and their scratch).
   */
  public enum Category {
    WEIGHTS, GRADIENTS, OPTIMIZER, ACTIVATIONS, COMM_BUFFERS;

    /** Lower-case name as in JSON and reports: weights, gradients, optimizer, activations, comm_buffers. */
    public String key() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    public static Category of(String what) {
      if (what == null) return ACTIVATIONS;
      if (what.startsWith("param.")) return WEIGHTS;
      if (what.startsWith("grad.")) return GRADIENTS;
      if (what.startsWith("adam.")) return OPTIMIZER;
      if (what.startsWith("comm.") || what.startsWith("pp ")) return COMM_BUFFERS;
      return ACTIVATIONS;
    }
  }

  public DeviceMemory(String device, long capacityBytes) {
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("device memory capacity must be positive, got " + capacityBytes);
    }
    this.device = device;
    this.capacity = capacityBytes;
  }

  public static DeviceMemory unlimited(String device) {
    return new DeviceMemory(device, UNLIMITED);
  }

  /** Charges {@code bytes} for {@code what}; throws if the device would go over its capacity. */
  public void allocate(long bytes, String what) {
    if (bytes < 0) throw new IllegalArgumentException("negative allocation " + bytes + " for " + what);
    while (true) {
      long used = inUse.get();
      long next = used + bytes;
      if (next > capacity || next < 0) {
        throw new OutOfDeviceMemoryError(device, what, bytes, used, capacity);
      }
      if (inUse.compareAndSet(used, next)) {
        peak.accumulateAndGet(next, Math::max);
        track(Category.of(what), bytes);
        return;
      }
    }
  }

  /** Returns {@code bytes} to the device (the category of the allocation unknown: counted off activations). */
  public void release(long bytes) {
    release(bytes, null);
  }

  /** Returns {@code bytes} allocated for {@code what} to the device. */
  public void release(long bytes, String what) {
    track(Category.of(what), -bytes);
    long after = inUse.addAndGet(-bytes);
    if (after < 0) {
      throw new IllegalStateException(device + ": released more memory than was allocated (" + after + ")");
    }
  }

  public String device() { return device; }
  public long capacity() { return capacity; }
  public boolean limited() { return capacity != UNLIMITED; }
  public long inUse() { return inUse.get(); }
  public long peak() { return peak.get(); }

  private synchronized void track(Category c, long delta) {
    byCategory[c.ordinal()] += delta;
    long sum = 0;
    for (long b : byCategory) sum += b;
    if (sum > peakSeen) {
      peakSeen = sum;
      System.arraycopy(byCategory, 0, atPeak, 0, atPeak.length);
    }
  }

  /**
   * Bytes by category at the moment the device was fullest (categories as {@link Category#key}, in enum
   * order); they sum to the peak up to allocations racing on other threads.
   */
  public synchronized java.util.Map<String, Long> peakByCategory() {
    java.util.Map<String, Long> m = new java.util.LinkedHashMap<>();
    for (Category c : Category.values()) m.put(c.key(), atPeak[c.ordinal()]);
    return m;
  }

  /** Forgets the peak so far (the new peak starts at what is in use now). */
  public synchronized void resetPeak() {
    peak.set(inUse.get());
    long sum = 0;
    for (long b : byCategory) sum += b;
    peakSeen = sum;
    System.arraycopy(byCategory, 0, atPeak, 0, atPeak.length);
  }

  /** Human-readable byte count: 1536 -> "1.50 KiB". */
  public static String format(long bytes) {
    if (bytes == UNLIMITED) return "unlimited";
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return u == 0 ? bytes + " B" : String.format(java.util.Locale.ROOT, "%.2f %s", v, units[u]);
  }

  /** Parses sizes such as "512MiB", "2GB", "1.5g", "4096" (bytes). */
  public static long parseSize(String text) {
    String t = text.trim().toLowerCase(java.util.Locale.ROOT).replace(" ", "");
    int i = 0;
    while (i < t.length() && (Character.isDigit(t.charAt(i)) || t.charAt(i) == '.')) i++;
    if (i == 0) throw new NumberFormatException("not a size: '" + text + "' (try 512MiB, 2GiB, 100000)");
    double number = Double.parseDouble(t.substring(0, i));
    String unit = t.substring(i);
    long mul = switch (unit) {
      case "", "b" -> 1L;
      case "k", "kb", "kib" -> 1L << 10;
      case "m", "mb", "mib" -> 1L << 20;
      case "g", "gb", "gib" -> 1L << 30;
      case "t", "tb", "tib" -> 1L << 40;
      default -> throw new NumberFormatException("unknown size unit '" + unit + "' in '" + text + "' (use B, KiB, MiB, GiB)");
    };
    return (long) Math.ceil(number * mul);
  }

  @Override
  public String toString() {
    return device + " [in use " + format(inUse()) + ", peak " + format(peak()) + ", capacity " + format(capacity) + "]";
  }
}
