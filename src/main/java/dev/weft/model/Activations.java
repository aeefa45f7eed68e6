package dev.weft.model;

import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * The activations GPT-2 keeps from forward for backward, for one micro-batch of B sequences of T tokens,
 * plus the scratch buffers backward needs. All are charged to the device's memory.
 *
 * <p>Per layer (floats): ln1, ln2, atty, res2, res3 [B,T,C] each; ln1/ln2 mean and rstd [B,T] each;
 * qkv [B,T,3C]; att [B,NH,T,T]; fch, fchGelu [B,T,4C]. Besides: encoded, lnf [B,T,C], lnf mean/rstd,
 * logits [B,T,Vp] (overwritten in place by its gradient), losses [B,T]. Backward scratch (shared by all
 * layers): dres, dln, datty, dtmp [B,T,C], dqkv [B,T,3C], dfch, dfchGelu [B,T,4C].
 * So, with N = B T: {@code L (16 N C + 4 N + NH N T) + 2 N C + 2 N + N Vp + N + 4 N C + 3 N C + 8 N C}.
 */
public final class Activations implements AutoCloseable {
  public final int B;
  public final int T;
  public final float[][] ln1, ln1Mean, ln1Rstd, qkv, att, atty, res2, ln2, ln2Mean, ln2Rstd, fch, fchGelu, res3;
  public final float[] encoded, lnf, lnfMean, lnfRstd, logits, losses;
  public final float[] dres, dln, datty, dtmp, dqkv, dfch, dfchGelu;
  public final int[] inputs;
  public final int[] targets;
  private final List<Tensor> tensors = new ArrayList<>();

  public Activations(DeviceMemory memory, GPT2Config c, int B, int T, int paddedVocab) {
    this.B = B;
    this.T = T;
    int L = c.layers();
    int C = c.dModel();
    int NH = c.heads();
    int N = B * T;
    ln1 = new float[L][]; ln1Mean = new float[L][]; ln1Rstd = new float[L][]; qkv = new float[L][];
    att = new float[L][]; atty = new float[L][]; res2 = new float[L][]; ln2 = new float[L][];
    ln2Mean = new float[L][]; ln2Rstd = new float[L][]; fch = new float[L][]; fchGelu = new float[L][];
    res3 = new float[L][];
    try {
      encoded = alloc(memory, "act.encoded", N * C);
      for (int l = 0; l < L; l++) {
        String p = "act.h." + l + ".";
        ln1[l] = alloc(memory, p + "ln1", N * C);
        ln1Mean[l] = alloc(memory, p + "ln1_mean", N);
        ln1Rstd[l] = alloc(memory, p + "ln1_rstd", N);
        qkv[l] = alloc(memory, p + "qkv", N * 3 * C);
        att[l] = alloc(memory, p + "att", (long) B * NH * T * T);
        atty[l] = alloc(memory, p + "atty", N * C);
        res2[l] = alloc(memory, p + "res2", N * C);
        ln2[l] = alloc(memory, p + "ln2", N * C);
        ln2Mean[l] = alloc(memory, p + "ln2_mean", N);
        ln2Rstd[l] = alloc(memory, p + "ln2_rstd", N);
        fch[l] = alloc(memory, p + "fch", N * 4 * C);
        fchGelu[l] = alloc(memory, p + "fch_gelu", N * 4 * C);
        res3[l] = alloc(memory, p + "res3", N * C);
      }
      lnf = alloc(memory, "act.lnf", N * C);
      lnfMean = alloc(memory, "act.lnf_mean", N);
      lnfRstd = alloc(memory, "act.lnf_rstd", N);
      logits = alloc(memory, "act.logits", (long) N * paddedVocab);
      losses = alloc(memory, "act.losses", N);
      dres = alloc(memory, "scratch.dres", N * C);
      dln = alloc(memory, "scratch.dln", N * C);
      datty = alloc(memory, "scratch.datty", N * C);
      dtmp = alloc(memory, "scratch.dtmp", N * C);
      dqkv = alloc(memory, "scratch.dqkv", N * 3 * C);
      dfch = alloc(memory, "scratch.dfch", N * 4 * C);
      dfchGelu = alloc(memory, "scratch.dfch_gelu", N * 4 * C);
    } catch (RuntimeException | Error e) {
      close();
      throw e;
    }
    inputs = new int[N];
    targets = new int[N];
  }

  /** Bytes these activations take for a given shape, by the formula in the class comment. */
  public static long bytesFor(GPT2Config c, int B, int T, int paddedVocab) {
    long N = (long) B * T;
    long C = c.dModel();
    long perLayer = 16 * N * C + 4 * N + (long) c.heads() * N * T;
    long floats = c.layers() * perLayer + 2 * N * C + 2 * N + N * paddedVocab + N + 4 * N * C + 3 * N * C + 8 * N * C;
    return floats * Float.BYTES;
  }

  private float[] alloc(DeviceMemory memory, String name, long n) {
    if (n > Integer.MAX_VALUE - 8) {
      throw new dev.weft.WeftInputException(name + " would need " + n + " floats, more than one array holds; "
          + "use a smaller micro-batch (--micro-batch) or context.");
    }
    Tensor t = Tensor.zeros(memory, name, (int) n);
    tensors.add(t);
    return t.data();
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
