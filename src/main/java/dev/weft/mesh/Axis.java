package dev.weft.mesh;

import java.util.Locale;

/**
 * The axes of the device mesh. "Axis" is the mesh's word (a way of splitting the work across ranks);
 * "dim" is the tensor's. Declared from the outermost (PP) to the innermost (TP) rank stride.
 */
public enum Axis {
  /** Pipeline parallel: layers cut into stages. Outermost (largest rank stride). */
  PP,
  /** Data parallel: replicas that see different sequences and reduce gradients. */
  DP,
  /** Context parallel: the sequence dimension cut across ranks. */
  CP,
  /** Tensor parallel: matrices cut across ranks. Innermost (stride 1): the chattiest axis. */
  TP;

  /** Lower-case name as used on the command line and in toString: "dp", "tp", ... */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
