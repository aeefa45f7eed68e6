package dev.weft.model;

import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The activations GPT-2 keeps from forward for backward, for one micro-batch of B sequences of T tokens
 * on one rank, plus the scratch buffers backward needs. All are charged to the device's memory.
 *
 * <p>With N = B T rows, tensor parallelism of degree t (Cl = C/t, Fl = 4C/t, NHl = NH/t, Vl = Vp/t) and
 * R = N rows of the residual stream (R = N/t under sequence parallelism), in floats:
 * <pre>
 *   per layer   ln1, res2, ln2, res3 [R,C]; ln means/rstds 4R; qkv [N,3Cl]; lse [B,NHl,T] (attention is
 *               blockwise: only each row's log-sum-exp is kept, never T x T scores); atty [N,Cl];
 *               fch, fchGelu [N,Fl]                         = 4RC + 4R + 4N Cl + NHl N + 2N Fl
 *   once        encoded, lnf [R,C]; lnf stats 2R; logits [N,Vl]; losses [N]
 *   scratch     dres [R,C]; dln, dtmp [N,C]; datty [N,Cl]; dqkv [N,3Cl]; dfch, dfchGelu [N,Fl];
 *               under sequence parallelism also full, dfull [N,C] and dlnRows, rowOut [R,C]
 * </pre>
 * At t = 1: {@code L (16 N C + 4 N + NH N) + 2 N C + 2 N + N V + N + 15 N C}: linear in T.
 *
 * <p>The scratch lives in a {@link Workspace}, which a pipeline shares between the micro-batches it keeps
 * in flight. Under full recomputation (the workspace's {@code recompute}) a block keeps only res3 [R,C]:
 * its other per-layer arrays are the workspace's one block of buffers, which forward overwrites block
 * after block and backward refills by running each block's forward again before its backward.
 */
public final class Activations implements AutoCloseable {
  public final int B;
  public final int T;
  public final float[][] ln1, ln1Mean, ln1Rstd, qkv, lse, atty, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3;
  public final float[] encoded, lnf, lnfMean, lnfRstd, logits, losses;
  public final float[] dres, dln, datty, dtmp, dqkv, dfch, dfchGelu;
  /** Sequence-parallel scratch (null otherwise): gathered rows, gathered gradient rows, row-shard buffers. */
  public final float[] full, dfull, dlnRows, rowOut;
  public final int[] inputs;
  public final int[] targets;
  /** Blocks keep only res3; backward recomputes the rest (see the class comment). */
  public final boolean recompute;
  private final Workspace workspace;
  private final boolean ownsWorkspace;
  /** Where the arrays come from and go back to; null: allocated here, freed on close. */
  private final BufferPool pool;
  private final List<Tensor> tensors = new ArrayList<>();
  private final DeviceMemory memory;
  private final java.util.Map<Integer, Deferred> deferred = new java.util.HashMap<>();

  /**
   * The output gradients a zero-bubble backward keeps for one block until its deferred weight pass:
   * mlp.c_proj's and attn.c_proj's dY [N,C], c_fc's [N,Fl] and c_attn's [N,3Cl]. Charged to the device.
   */
  public static final class Deferred implements AutoCloseable {
    public final float[] dMlpProj, dFc, dAttnProj, dQkv;
    private final Tensor[] held;

    Deferred(DeviceMemory memory, int l, int n, int c, int cl, int fl) {
      String p = "act.zb.h." + l + ".";
      Tensor a = Tensor.zeros(memory, p + "d_mlp_proj", n * c);
      Tensor b = Tensor.zeros(memory, p + "d_fc", n * fl);
      Tensor d = Tensor.zeros(memory, p + "d_attn_proj", n * c);
      Tensor e = Tensor.zeros(memory, p + "d_qkv", n * 3 * cl);
      held = new Tensor[] {a, b, d, e};
      dMlpProj = a.data();
      dFc = b.data();
      dAttnProj = d.data();
      dQkv = e.data();
    }

    @Override
    public void close() {
      for (Tensor t : held) t.close();
    }
  }

  /** The deferred-gradient buffers of block l (allocated now). */
  public Deferred deferred(int l, int n, int c, int cl, int fl) {
    Deferred d = new Deferred(memory, l, n, c, cl, fl);
    deferred.put(l, d);
    return d;
  }

  /** Removes and returns block l's deferred buffers (the caller closes them). */
  public Deferred takeDeferred(int l) {
    Deferred d = deferred.remove(l);
    if (d == null) throw new IllegalStateException("no deferred weight gradients kept for block " + l);
    return d;
  }

  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab) {
    this(memory, c, B, T, paddedVocab, 1, false);
  }

  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp) {
    this(memory, c, B, T, paddedVocab, tp, sp, null, true);
  }

  /**
   * Activations for the blocks marked in {@code layers} only (null = all), with the head's buffers (lnf,
   * logits, losses) only when {@code head}: one pipeline stage's micro-batch.
   */
  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp,
                     boolean[] layers, boolean head) {
    this(memory, c, B, T, paddedVocab, tp, sp, layers, head, new Workspace(memory, c, B, T, tp, sp, false), null, true);
  }

  /** All blocks and the head, on a workspace of their own; with {@code recompute}, blocks keep only res3. */
  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp,
                     boolean recompute) {
    this(memory, c, B, T, paddedVocab, tp, sp, null, true, new Workspace(memory, c, B, T, tp, sp, recompute), null,
        true);
  }

  /**
   * One pipeline chunk's activations on the scratch (and, under recomputation, the block buffers) of
   * {@code ws}, which the caller owns and may share between the micro-batches it keeps in flight.
   */
  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp,
                     boolean[] layers, boolean head, Workspace ws) {
    this(memory, c, B, T, paddedVocab, tp, sp, layers, head, ws, null, false);
  }

  /**
   * As above, the arrays taken from {@code pool} and given back to it by {@link #close} (charged to the
   * device only while these activations live): a pipeline stashes and frees activations of the same shapes
   * every micro-batch, so reusing the arrays spares the heap hundreds of megabytes of churn per step. The
   * arrays come back unzeroed; forward overwrites every one of them.
   */
  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp,
                     boolean[] layers, boolean head, Workspace ws, BufferPool pool) {
    this(memory, c, B, T, paddedVocab, tp, sp, layers, head, ws, pool, false);
  }

  private Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp,
                      boolean[] layers, boolean head, Workspace ws, BufferPool pool,
                      boolean ownsWorkspace) {
    this.pool = pool;
    if (ws.n != B * T) {
      if (ownsWorkspace) ws.close();
      throw new IllegalArgumentException("workspace for " + ws.n + " rows, activations for " + B * T);
    }
    this.ownsWorkspace = ownsWorkspace;
    this.workspace = ws;
    this.recompute = ws.recompute;
    this.memory = memory;
    this.B = B;
    this.T = T;
    int L = c.layers();
    int C = c.dModel();
    int N = B * T;
    int R = sp ? N / tp : N;
    int cl = C / tp;
    int fl = 4 * C / tp;
    int nhl = c.heads() / tp;
    int vl = paddedVocab / tp;
    ln1 = new float[L][]; ln1Mean = new float[L][]; ln1Rstd = new float[L][]; qkv = new float[L][];
    lse = new float[L][]; atty = new float[L][]; res2 = new float[L][]; ln2 = new float[L][];
    ln2Mean = new float[L][]; ln2Rstd = new float[L][]; fch = new float[L][]; fchGelu = new float[L][];
    res3 = new float[L][];
    try {
      encoded = alloc(memory, "act.encoded", (long) R * C);
      for (int l = 0; l < L; l++) {
        if (layers != null && !layers[l]) continue;
        String p = "act.h." + l + ".";
        if (recompute) {
          Workspace w = workspace;
          ln1[l] = w.ln1; ln1Mean[l] = w.ln1Mean; ln1Rstd[l] = w.ln1Rstd; qkv[l] = w.qkv; lse[l] = w.lse;
          atty[l] = w.atty; res2[l] = w.res2; ln2[l] = w.ln2; ln2Mean[l] = w.ln2Mean; ln2Rstd[l] = w.ln2Rstd;
          fch[l] = w.fch; fchGelu[l] = w.fchGelu;
          res3[l] = alloc(memory, p + "res3", (long) R * C);
          continue;
        }
        ln1[l] = alloc(memory, p + "ln1", (long) R * C);
        ln1Mean[l] = alloc(memory, p + "ln1_mean", R);
        ln1Rstd[l] = alloc(memory, p + "ln1_rstd", R);
        qkv[l] = alloc(memory, p + "qkv", (long) N * 3 * cl);
        lse[l] = alloc(memory, p + "lse", (long) B * nhl * T);
        atty[l] = alloc(memory, p + "atty", (long) N * cl);
        res2[l] = alloc(memory, p + "res2", (long) R * C);
        ln2[l] = alloc(memory, p + "ln2", (long) R * C);
        ln2Mean[l] = alloc(memory, p + "ln2_mean", R);
        ln2Rstd[l] = alloc(memory, p + "ln2_rstd", R);
        fch[l] = alloc(memory, p + "fch", (long) N * fl);
        fchGelu[l] = alloc(memory, p + "fch_gelu", (long) N * fl);
        res3[l] = alloc(memory, p + "res3", (long) R * C);
      }
      lnf = head ? alloc(memory, "act.lnf", (long) R * C) : null;
      lnfMean = head ? alloc(memory, "act.lnf_mean", R) : null;
      lnfRstd = head ? alloc(memory, "act.lnf_rstd", R) : null;
      logits = head ? alloc(memory, "act.logits", (long) N * vl) : null;
      losses = head ? alloc(memory, "act.losses", N) : null;
      Workspace w = workspace;
      dres = w.dres; dln = w.dln; datty = w.datty; dtmp = w.dtmp; dqkv = w.dqkv; dfch = w.dfch; dfchGelu = w.dfchGelu;
      full = w.full; dfull = w.dfull; dlnRows = w.dlnRows; rowOut = w.rowOut;
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
    inputs = new int[N];
    targets = new int[N];
  }

  /** Bytes of one device's activations at t = 1, by the formula in the class comment. */
  public static long bytesFor(GPT2Config c, int B, int T, int paddedVocab) {
    return bytesFor(c, B, T, paddedVocab, 1, false);
  }

  /** Bytes of one tensor-parallel rank's activations, by the formula in the class comment. */
  public static long bytesFor(GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp) {
    return bytesFor(c, B, T, paddedVocab, tp, sp, false);
  }

  /** As above; with {@code recompute}, blocks keep R C floats each and the workspace one block's activations. */
  public static long bytesFor(GPT2Config c, int B, int T, int paddedVocab, int tp, boolean sp, boolean recompute) {
    long N = (long) B * T;
    long R = sp ? N / tp : N;
    long res3 = R * c.dModel();
    long perLayer = recompute ? res3 : res3 + Workspace.blockFloats(c, B, T, tp, sp);
    long once = 2 * res3 + 2 * R + N * (paddedVocab / tp) + N;
    return (c.layers() * perLayer + once) * Float.BYTES + Workspace.bytesFor(c, B, T, tp, sp, recompute);
  }

  private float[] alloc(DeviceMemory memory, String name, long n) {
    return Workspace.alloc(memory, pool, tensors, name, n);
  }

  /** Bytes held by these activations (with the workspace when it is their own). */
  public long bytes() {
    long b = ownsWorkspace ? workspace.bytes() : 0;
    for (Tensor t : tensors) b += t.bytes();
    return b;
  }

  @Override
  public void close() {
    for (Deferred d : deferred.values()) d.close();
    deferred.clear();
    for (Tensor t : tensors) {
      if (pool != null) pool.give(t);
      else t.close();
    }
    tensors.clear();
    if (ownsWorkspace) workspace.close();
  }
}
