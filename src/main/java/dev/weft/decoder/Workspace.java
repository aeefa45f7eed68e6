package dev.weft.decoder;

import dev.weft.WeftInputException;
import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The buffers a micro-batch needs only while one of its passes runs, shared by every micro-batch a rank
 * keeps in flight (a pipeline stashes several; each pass runs alone on the rank's thread): the backward
 * scratch and, under full activation recomputation, one block's activations. Sizes:
 * {@link ActivationShapes#scratchFloats} and {@link ActivationShapes#blockFloats}.
 *
 * <p>Full recomputation (Chen et al. 2016; Megatron-LM's "full" granularity) keeps only each block's output
 * (its res3, the next block's input) from forward; backward runs each block's forward again into these
 * buffers just before that block's backward. The recomputed values are the stored ones bit for bit: the
 * same kernels on the same inputs in the same order (and the same collectives under TP, SP and CP).
 */
public final class Workspace implements AutoCloseable {
  final int n;
  final boolean recompute;
  final float[] dres, dln, datty, dtmp, dqkv, dfch, dfact;
  final float[] full, dfull, dlnRows, rowOut;
  final float[] ln1, ln1Mean, ln1Rstd, qkv, lse, atty, res2, ln2, ln2Mean, ln2Rstd, fch, fact;
  private final List<Tensor> tensors = new ArrayList<>();

  /** Buffers for micro-batches of {@code s}; with {@code recompute}, also one block's activations. */
  public Workspace(DeviceMemory memory, ActivationShapes s, boolean recompute) {
    this.n = s.N;
    this.recompute = recompute;
    try {
      dres = alloc(memory, "scratch.dres", s.rows());
      dln = alloc(memory, "scratch.dln", s.full());
      datty = alloc(memory, "scratch.datty", s.atty());
      dtmp = alloc(memory, "scratch.dtmp", s.full());
      dqkv = alloc(memory, "scratch.dqkv", s.qkv());
      dfch = alloc(memory, "scratch.dfch", s.fcIn());
      dfact = alloc(memory, "scratch.dfact", s.fcOut());
      full = s.sp ? alloc(memory, "scratch.full", s.full()) : null;
      dfull = s.sp ? alloc(memory, "scratch.dfull", s.full()) : null;
      dlnRows = s.sp ? alloc(memory, "scratch.dln_rows", s.rows()) : null;
      rowOut = s.sp ? alloc(memory, "scratch.row_out", s.rows()) : null;
      String p = "recompute.block.";
      boolean ln = s.normStats == 2;
      ln1 = recompute ? alloc(memory, p + "ln1", s.rows()) : null;
      ln1Mean = recompute && ln ? alloc(memory, p + "ln1_mean", s.stat()) : null;
      ln1Rstd = recompute ? alloc(memory, p + "ln1_rstd", s.stat()) : null;
      qkv = recompute ? alloc(memory, p + "qkv", s.qkv()) : null;
      lse = recompute ? alloc(memory, p + "lse", s.lse()) : null;
      atty = recompute ? alloc(memory, p + "atty", s.atty()) : null;
      res2 = recompute ? alloc(memory, p + "res2", s.rows()) : null;
      ln2 = recompute ? alloc(memory, p + "ln2", s.rows()) : null;
      ln2Mean = recompute && ln ? alloc(memory, p + "ln2_mean", s.stat()) : null;
      ln2Rstd = recompute ? alloc(memory, p + "ln2_rstd", s.stat()) : null;
      fch = recompute ? alloc(memory, p + "fch", s.fcIn()) : null;
      fact = recompute ? alloc(memory, p + "fact", s.fcOut()) : null;
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** Whether blocks keep only their outputs and are recomputed in backward. */
  public boolean recompute() {
    return recompute;
  }

  /** A zeroed tensor of n floats charged to the device, or (with a pool) one of its kept arrays, not zeroed. */
  static float[] alloc(DeviceMemory memory, BufferPool pool, List<Tensor> into, String name, long n) {
    if (n > Integer.MAX_VALUE - 8) {
      throw new WeftInputException(name + " would need " + n + " floats, more than one array holds; "
          + "use a smaller micro-batch (--micro-batch) or context.");
    }
    Tensor t = pool != null ? pool.take(name, (int) n, false) : Tensor.zeros(memory, name, (int) n);
    into.add(t);
    return t.data();
  }

  private float[] alloc(DeviceMemory memory, String name, long n) {
    return alloc(memory, null, tensors, name, n);
  }

  public long bytes() {
    long b = 0;
    for (Tensor t : tensors) b += t.bytes();
    return b;
  }

  @Override
  public void close() {
    for (Tensor t : tensors) t.close();
    tensors.clear();
  }
}
