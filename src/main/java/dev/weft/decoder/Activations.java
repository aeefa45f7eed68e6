package dev.weft.decoder;

import dev.weft.tensor.BufferPool;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The activations a decoder keeps from forward for backward, for one micro-batch on one rank, plus views of
 * the scratch backward needs (its {@link Workspace}). All are charged to the device's memory; their sizes
 * are {@link ActivationShapes}' (see there for the shapes).
 *
 * <p>A pipeline stage's micro-batch holds only its chunk's blocks and, on the last stage, the head's buffers;
 * its arrays may come from a {@link BufferPool} (a pipeline stashes and frees activations of the same shapes
 * every micro-batch). The scratch lives in a {@link Workspace}, which a pipeline shares between the
 * micro-batches it keeps in flight. Under full recomputation (the workspace's {@code recompute}) a block keeps
 * only res3 [R,C]: its other per-layer arrays are the workspace's one block of buffers, which forward
 * overwrites block after block and backward refills by running each block's forward again before its
 * backward. The norms' mean arrays are null for RMSNorm (it keeps only rstd).
 */
public final class Activations implements AutoCloseable {
  public final int B;
  public final int T;
  public final float[][] ln1, ln1Mean, ln1Rstd, qkv, lse, atty, res2, ln2, ln2Mean, ln2Rstd, fch, fact, res3;
  public final float[] encoded, lnf, lnfMean, lnfRstd, logits, losses;
  public final float[] dres, dln, datty, dtmp, dqkv, dfch, dfact;
  /** Sequence-parallel scratch (null otherwise): gathered rows, gathered gradient rows, row-shard buffers. */
  public final float[] full, dfull, dlnRows, rowOut;
  public final int[] inputs;
  public final int[] targets;
  /** Blocks keep only res3; backward recomputes the rest (see the class comment). */
  public final boolean recompute;
  final ActivationShapes shapes;
  private final Workspace workspace;
  private final boolean ownsWorkspace;
  private final BufferPool pool;
  private final List<Tensor> tensors = new ArrayList<>();
  private final DeviceMemory memory;
  private final Map<Integer, Deferred> deferred = new HashMap<>();

  /**
   * The output gradients a zero-bubble backward keeps for one block until its deferred weight pass: the MLP
   * output projection's and the attention output projection's dY [N,C], the MLP input's [N,Wi] and
   * q|k|v's [N,Wqkv]. Charged to the device.
   */
  public static final class Deferred implements AutoCloseable {
    public final float[] dMlpProj, dFc, dAttnProj, dQkv;
    private final Tensor[] held;

    Deferred(DeviceMemory memory, int l, ActivationShapes s) {
      String p = "act.zb.block" + l + ".";
      Tensor a = Tensor.zeros(memory, p + "d_mlp_out", (int) s.full());
      Tensor b = Tensor.zeros(memory, p + "d_mlp_in", (int) s.fcIn());
      Tensor d = Tensor.zeros(memory, p + "d_attn_out", (int) s.full());
      Tensor e = Tensor.zeros(memory, p + "d_qkv", (int) s.qkv());
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
  public Deferred deferred(int l) {
    Deferred d = new Deferred(memory, l, shapes);
    deferred.put(l, d);
    return d;
  }

  /** Removes and returns block l's deferred buffers (the caller closes them). */
  public Deferred takeDeferred(int l) {
    Deferred d = deferred.remove(l);
    if (d == null) throw new IllegalStateException("no deferred weight gradients kept for block " + l);
    return d;
  }

  /**
   * Activations of {@code layers} blocks (those marked; all of {@code layers.length}) and, with
   * {@code head}, the head's buffers, on workspace {@code ws} ({@code ownsWorkspace}: closed with these);
   * arrays from {@code pool} when given (charged only while these live), else allocated.
   */
  Activations(DeviceMemory memory, ActivationShapes s, boolean[] layers, boolean head, Workspace ws,
              boolean ownsWorkspace, BufferPool pool) {
    this.pool = pool;
    this.shapes = s;
    if (ws.n != s.N) {
      if (ownsWorkspace) ws.close();
      throw new IllegalArgumentException("workspace for " + ws.n + " rows, activations for " + s.N);
    }
    this.ownsWorkspace = ownsWorkspace;
    this.workspace = ws;
    this.recompute = ws.recompute;
    this.memory = memory;
    this.B = s.B;
    this.T = s.T;
    int L = layers.length;
    boolean ln = s.normStats == 2;
    ln1 = new float[L][]; ln1Mean = new float[L][]; ln1Rstd = new float[L][]; qkv = new float[L][];
    lse = new float[L][]; atty = new float[L][]; res2 = new float[L][]; ln2 = new float[L][];
    ln2Mean = new float[L][]; ln2Rstd = new float[L][]; fch = new float[L][]; fact = new float[L][];
    res3 = new float[L][];
    try {
      encoded = alloc("act.encoded", s.rows());
      for (int l = 0; l < L; l++) {
        if (!layers[l]) continue;
        String p = "act.block" + l + ".";
        if (recompute) {
          Workspace w = workspace;
          ln1[l] = w.ln1; ln1Mean[l] = w.ln1Mean; ln1Rstd[l] = w.ln1Rstd; qkv[l] = w.qkv; lse[l] = w.lse;
          atty[l] = w.atty; res2[l] = w.res2; ln2[l] = w.ln2; ln2Mean[l] = w.ln2Mean; ln2Rstd[l] = w.ln2Rstd;
          fch[l] = w.fch; fact[l] = w.fact;
          res3[l] = alloc(p + "res3", s.rows());
          continue;
        }
        ln1[l] = alloc(p + "ln1", s.rows());
        ln1Mean[l] = ln ? alloc(p + "ln1_mean", s.stat()) : null;
        ln1Rstd[l] = alloc(p + "ln1_rstd", s.stat());
        qkv[l] = alloc(p + "qkv", s.qkv());
        lse[l] = alloc(p + "lse", s.lse());
        atty[l] = alloc(p + "atty", s.atty());
        res2[l] = alloc(p + "res2", s.rows());
        ln2[l] = alloc(p + "ln2", s.rows());
        ln2Mean[l] = ln ? alloc(p + "ln2_mean", s.stat()) : null;
        ln2Rstd[l] = alloc(p + "ln2_rstd", s.stat());
        fch[l] = alloc(p + "fch", s.fcIn());
        fact[l] = alloc(p + "fact", s.fcOut());
        res3[l] = alloc(p + "res3", s.rows());
      }
      lnf = head ? alloc("act.lnf", s.rows()) : null;
      lnfMean = head && ln ? alloc("act.lnf_mean", s.stat()) : null;
      lnfRstd = head ? alloc("act.lnf_rstd", s.stat()) : null;
      logits = head ? alloc("act.logits", s.logits()) : null;
      losses = head ? alloc("act.losses", s.N) : null;
      Workspace w = workspace;
      dres = w.dres; dln = w.dln; datty = w.datty; dtmp = w.dtmp; dqkv = w.dqkv; dfch = w.dfch; dfact = w.dfact;
      full = w.full; dfull = w.dfull; dlnRows = w.dlnRows; rowOut = w.rowOut;
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
    inputs = new int[s.N];
    targets = new int[s.N];
  }

  /**
   * One pipeline chunk's activations ({@code layers} marked; the head's buffers with {@code head}) on the
   * caller's workspace {@code ws}, allocated (not pooled).
   */
  public static Activations forStage(DeviceMemory memory, ActivationShapes s, boolean[] layers, boolean head,
                                     Workspace ws) {
    return new Activations(memory, s, layers, head, ws, false, null);
  }

  private float[] alloc(String name, long n) {
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
