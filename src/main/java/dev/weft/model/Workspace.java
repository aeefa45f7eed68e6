package dev.weft.model;

import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The buffers a micro-batch needs only while one of its passes runs, shared by every micro-batch a rank
 * keeps in flight (a pipeline stashes several; each pass runs alone on the rank's thread): the backward
 * scratch and, under full activation recomputation, one block's activations.
 *
 * <p>With N = B T rows, tensor parallelism of degree t (Cl = C/t, Fl = 4C/t, NHl = NH/t) and R rows of
 * the residual stream (N/t under sequence parallelism), in floats:
 * <pre>
 *   scratch     dres [R,C]; dln, dtmp [N,C]; datty [N,Cl]; dqkv [N,3Cl]; dfch, dfchGelu [N,Fl];
 *               under sequence parallelism also full, dfull [N,C] and dlnRows, rowOut [R,C]
 *   recompute   one block's ln1, res2, ln2 [R,C]; LayerNorm means and rstds 4R; qkv [N,3Cl]; lse [B,NHl,T];
 *               atty [N,Cl]; fch, fchGelu [N,Fl]    = 3RC + 4R + 4N Cl + NHl N + 2N Fl
 * </pre>
 * Full recomputation (Chen et al. 2016; Megatron-LM's "full" granularity) keeps only each block's output
 * (its res3, the next block's input) from forward; backward runs each block's forward again into these
 * buffers just before that block's backward. The recomputed values are the stored ones bit for bit: the
 * same kernels on the same inputs in the same order (and the same collectives under TP, SP and CP).
 */
public final class Workspace implements AutoCloseable {
  final int n;
  final boolean recompute;
  final float[] dres, dln, datty, dtmp, dqkv, dfch, dfchGelu;
  final float[] full, dfull, dlnRows, rowOut;
  final float[] ln1, ln1Mean, ln1Rstd, qkv, lse, atty, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu;
  private final List<Tensor> tensors = new ArrayList<>();

  /** Buffers for micro-batches of B sequences of T tokens; with {@code recompute}, also one block's activations. */
  public Workspace(DeviceMemory memory, GPT2Config c, int B, int T, int tp, boolean sp, boolean recompute) {
    int C = c.dModel();
    int N = B * T;
    int R = sp ? N / tp : N;
    int cl = C / tp;
    int fl = 4 * C / tp;
    int nhl = c.heads() / tp;
    this.n = N;
    this.recompute = recompute;
    try {
      dres = alloc(memory, "scratch.dres", (long) R * C);
      dln = alloc(memory, "scratch.dln", (long) N * C);
      datty = alloc(memory, "scratch.datty", (long) N * cl);
      dtmp = alloc(memory, "scratch.dtmp", (long) N * C);
      dqkv = alloc(memory, "scratch.dqkv", (long) N * 3 * cl);
      dfch = alloc(memory, "scratch.dfch", (long) N * fl);
      dfchGelu = alloc(memory, "scratch.dfch_gelu", (long) N * fl);
      full = sp ? alloc(memory, "scratch.full", (long) N * C) : null;
      dfull = sp ? alloc(memory, "scratch.dfull", (long) N * C) : null;
      dlnRows = sp ? alloc(memory, "scratch.dln_rows", (long) R * C) : null;
      rowOut = sp ? alloc(memory, "scratch.row_out", (long) R * C) : null;
      String p = "recompute.block.";
      ln1 = recompute ? alloc(memory, p + "ln1", (long) R * C) : null;
      ln1Mean = recompute ? alloc(memory, p + "ln1_mean", R) : null;
      ln1Rstd = recompute ? alloc(memory, p + "ln1_rstd", R) : null;
      qkv = recompute ? alloc(memory, p + "qkv", (long) N * 3 * cl) : null;
      lse = recompute ? alloc(memory, p + "lse", (long) B * nhl * T) : null;
      atty = recompute ? alloc(memory, p + "atty", (long) N * cl) : null;
      res2 = recompute ? alloc(memory, p + "res2", (long) R * C) : null;
      ln2 = recompute ? alloc(memory, p + "ln2", (long) R * C) : null;
      ln2Mean = recompute ? alloc(memory, p + "ln2_mean", R) : null;
      ln2Rstd = recompute ? alloc(memory, p + "ln2_rstd", R) : null;
      fch = recompute ? alloc(memory, p + "fch", (long) N * fl) : null;
      fchGelu = recompute ? alloc(memory, p + "fch_gelu", (long) N * fl) : null;
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** Whether blocks keep only their outputs and are recomputed in backward. */
  public boolean recompute() {
    return recompute;
  }

  /** Bytes of the workspace by the formula in the class comment. */
  public static long bytesFor(GPT2Config c, int B, int T, int tp, boolean sp, boolean recompute) {
    long N = (long) B * T;
    long C = c.dModel();
    long R = sp ? N / tp : N;
    long cl = C / tp;
    long fl = 4 * C / tp;
    long scratch = R * C + 2 * N * C + N * cl + 3 * N * cl + 2 * N * fl + (sp ? 2 * N * C + 2 * R * C : 0);
    return (scratch + (recompute ? blockFloats(c, B, T, tp, sp) : 0)) * Float.BYTES;
  }

  /** Floats of one block's activations other than its output res3: 3RC + 4R + 4N Cl + NHl N + 2N Fl. */
  static long blockFloats(GPT2Config c, int B, int T, int tp, boolean sp) {
    long N = (long) B * T;
    long C = c.dModel();
    long R = sp ? N / tp : N;
    return 3 * R * C + 4 * R + 4 * N * (C / tp) + (c.heads() / tp) * N + 2 * N * (4 * C / tp);
  }

  /** A zeroed tensor of n floats charged to the device, or (with a pool) one of its kept arrays, not zeroed. */
  static float[] alloc(DeviceMemory memory, BufferPool pool, List<Tensor> into, String name, long n) {
    if (n > Integer.MAX_VALUE - 8) {
      throw new dev.weft.WeftInputException(name + " would need " + n + " floats, more than one array holds; "
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
