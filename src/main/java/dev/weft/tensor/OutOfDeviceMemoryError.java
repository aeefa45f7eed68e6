package dev.weft.tensor;

import dev.weft.WeftInputException;

/**
 * A device was asked for more memory than its capacity allows. The message names the device, what was
 * asked for, what is in use and the capacity; callers that know the layout add which layouts would fit.
 */
public final class OutOfDeviceMemoryError extends WeftInputException {
  private final String device;
  private final long requested;
  private final long inUse;
  private final long capacity;

  public OutOfDeviceMemoryError(String device, String what, long requested, long inUse, long capacity) {
    this(device, requested, inUse, capacity, String.format(
        "out of device memory on %s: asked for %s for %s while %s of %s is in use. "
            + "Give the device more memory (--device-memory), use a smaller model or micro-batch, "
            + "or spread the model over more devices (--zero, --tp, --pp, --cp).",
        device, DeviceMemory.format(requested), what, DeviceMemory.format(inUse), DeviceMemory.format(capacity)));
  }

  private OutOfDeviceMemoryError(String device, long requested, long inUse, long capacity, String message) {
    super(message);
    this.device = device;
    this.requested = requested;
    this.inUse = inUse;
    this.capacity = capacity;
  }

  /** The same error with advice appended (for example, the layouts that would fit). */
  public OutOfDeviceMemoryError withAdvice(String advice) {
    return new OutOfDeviceMemoryError(device, requested, inUse, capacity, getMessage() + " " + advice);
  }

  public String device() { return device; }
  public long requested() { return requested; }
  public long inUse() { return inUse; }
  public long capacity() { return capacity; }
}
