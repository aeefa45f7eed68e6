package dev.weft.parallel.pp;

import dev.weft.kernels.Compute;
import dev.weft.kernels.Linear;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A chain of S = p*v layers y = tanh(x W_s + b_s) on [N, D] micro-batches, loss = 0.5 * sum(y^2) on the last
 * layer: the test model behind {@link PipelineExecutorTest}. Every rank builds the same weights from a seed; a
 * {@link Stages} view serves one rank's stages to the executor, stashing x, y and dz on the rank's memory.
 */
final class ToyChain {
  final int stages;
  final int n;
  final int d;
  final int m;
  final float[][] w;
  final float[][] b;
  final float[][] data;

  ToyChain(int stages, int m, int n, int d, long seed) {
    this.stages = stages;
    this.n = n;
    this.d = d;
    this.m = m;
    SplittableRandom r = new SplittableRandom(seed);
    w = new float[stages][d * d];
    b = new float[stages][d];
    for (int s = 0; s < stages; s++) {
      for (int i = 0; i < d * d; i++) w[s][i] = (float) (r.nextGaussian() * 0.6 / Math.sqrt(d));
      for (int i = 0; i < d; i++) b[s][i] = (float) (r.nextGaussian() * 0.1);
    }
    data = new float[m][n * d];
    for (float[] x : data) for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
  }

  /** The reference: every micro-batch forward through the whole chain and back, on one device. */
  Result serial(Compute cx) {
    Result res = new Result(stages, d);
    for (int mb = 0; mb < m; mb++) {
      float[][] xs = new float[stages + 1][];
      xs[0] = data[mb];
      for (int s = 0; s < stages; s++) {
        float[] z = new float[n * d];
        Linear.forward(cx, z, xs[s], w[s], 0, b[s], 0, n, d, d);
        for (int i = 0; i < z.length; i++) z[i] = (float) Math.tanh(z[i]);
        xs[s + 1] = z;
      }
      double loss = 0;
      for (float y : xs[stages]) loss += 0.5 * y * y;
      res.loss += loss;
      float[] dy = xs[stages].clone();
      for (int s = stages - 1; s >= 0; s--) {
        float[] y = xs[s + 1];
        float[] dz = new float[n * d];
        for (int i = 0; i < dz.length; i++) dz[i] = dy[i] * (1 - y[i] * y[i]);
        float[] dx = new float[n * d];
        Linear.backward(cx, dx, res.dw[s], 0, res.db[s], 0, dz, xs[s], w[s], 0, n, d, d);
        dy = dx;
      }
    }
    return res;
  }

  /** Loss and weight gradients (summed over micro-batches). */
  static final class Result {
    double loss;
    final float[][] dw;
    final float[][] db;

    Result(int stages, int d) {
      dw = new float[stages][d * d];
      db = new float[stages][d];
    }
  }

  /** One rank's stages as a {@link StageModel}; gradients land in {@code out} (shared across ranks, disjoint stages). */
  final class Stages implements StageModel {
    private final Compute cx;
    private final DeviceMemory memory;
    private final Result out;
    private final Map<Long, Tensor[]> stash = new HashMap<>(); // (s, mb) -> {x, y, dz}
    double loss;

    Stages(Compute cx, DeviceMemory memory, Result out) {
      this.cx = cx;
      this.memory = memory;
      this.out = out;
    }

    private long key(int s, int mb) {
      return (long) s << 32 | mb;
    }

    @Override
    public int activationLength(int stage, int microBatch) {
      return n * d;
    }

    @Override
    public void forward(int s, int mb, float[] input, float[] output) {
      if ((s == 0) != (input == null) || (s == stages - 1) != (output == null)) {
        throw new IllegalStateException("null input/output on the wrong stage " + s);
      }
      Tensor x = Tensor.of(memory, "x" + s + "." + mb, s == 0 ? data[mb] : input, n, d);
      Tensor y = Tensor.zeros(memory, "y" + s + "." + mb, n, d);
      Linear.forward(cx, y.data(), x.data(), w[s], 0, b[s], 0, n, d, d);
      float[] yd = y.data();
      for (int i = 0; i < yd.length; i++) yd[i] = (float) Math.tanh(yd[i]);
      if (output != null) {
        System.arraycopy(yd, 0, output, 0, yd.length);
      } else {
        double l = 0;
        for (float v : yd) l += 0.5 * v * v;
        loss += l;
      }
      if (stash.put(key(s, mb), new Tensor[] {x, y, null}) != null) throw new IllegalStateException("forward twice");
    }

    @Override
    public void backwardInput(int s, int mb, float[] gradOutput, float[] gradInput) {
      Tensor[] st = stash.get(key(s, mb));
      float[] y = st[1].data();
      float[] dy = gradOutput == null ? y : gradOutput;
      Tensor dz = Tensor.zeros(memory, "dz" + s + "." + mb, n, d);
      for (int i = 0; i < y.length; i++) dz.data()[i] = dy[i] * (1 - y[i] * y[i]);
      st[1].close();
      st[1] = null;
      st[2] = dz;
      if (gradInput != null) Linear.backwardInput(cx, gradInput, dz.data(), w[s], 0, n, d, d);
    }

    @Override
    public void backwardWeight(int s, int mb) {
      Tensor[] st = stash.remove(key(s, mb));
      Linear.backwardWeight(cx, out.dw[s], 0, out.db[s], 0, st[2].data(), st[0].data(), n, d, d);
      st[0].close();
      st[2].close();
    }

    boolean stashEmpty() {
      return stash.isEmpty();
    }
  }
}
