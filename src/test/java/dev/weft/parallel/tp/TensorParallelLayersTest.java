package dev.weft.parallel.tp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.comm.LocalCluster;
import dev.weft.kernels.Compute;
import dev.weft.kernels.CrossEntropy;
import dev.weft.kernels.Linear;
import dev.weft.kernels.ScalarGemm;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Each tensor-parallel layer against its one-device twin, forward and every gradient, on seeded random
 * inputs, for t = 1, 2, 3, 4 ranks with and without sequence parallelism. Column-parallel outputs are
 * slices of the serial output bit for bit (no reduction); everything that sums over ranks is compared with
 * a relative tolerance of 1e-5 (float sums in another order).
 */
class TensorParallelLayersTest {
  static final int N = 12;
  static final int IC = 10;

  static float[] random(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
    return x;
  }

  static void close(float[] got, float[] want, String what) {
    double d = 0, n = 0;
    for (int i = 0; i < want.length; i++) {
      d += Math.pow(got[i] - want[i], 2);
      n += Math.pow(want[i], 2);
    }
    assertThat(Math.sqrt(d / Math.max(n, 1e-30))).as(what).isLessThan(1e-5);
  }

  static float[] cols(float[] a, int rows, int width, int start, int w) {
    float[] o = new float[rows * w];
    for (int i = 0; i < rows; i++) System.arraycopy(a, i * width + start, o, i * w, w);
    return o;
  }

  static float[] rows(float[] a, int width, int start, int count) {
    float[] o = new float[count * width];
    System.arraycopy(a, start * width, o, 0, count * width);
    return o;
  }

  @ParameterizedTest(name = "t={0} sp={1}")
  @CsvSource({"1,false", "2,false", "3,false", "4,false", "2,true", "3,true", "4,true"})
  void columnParallelLinearMatchesLinear(int t, boolean sp) throws Exception {
    int oc = 12;
    int ocl = oc / t;
    float[] x = random(N * IC, 1), w = random(IC * oc, 2), b = random(oc, 3), dy = random(N * oc, 4);
    Compute cx = new Compute(1, new ScalarGemm());
    float[] y = new float[N * oc];
    Linear.forward(cx, y, x, w, 0, b, 0, N, IC, oc);
    float[] dx = new float[N * IC], dw = new float[IC * oc], db = new float[oc];
    Linear.backward(cx, dx, dw, 0, db, 0, dy, x, w, 0, N, IC, oc);
    LocalCluster.run(t, Duration.ofSeconds(20), be -> {
      int r = be.rank();
      TensorParallel tp = new TensorParallel(t == 1 ? null : be.world(), sp);
      int rows = tp.rows(N);
      float[] in = sp ? rows(x, IC, tp.rowStart(N), rows) : x.clone();
      float[] out = new float[N * ocl];
      float[] gathered = new float[N * IC];
      float[] xFull = ColumnParallelLinear.forward(cx, tp, out, in, gathered, cols(w, IC, oc, r * ocl, ocl), 0,
          cols(b, 1, oc, r * ocl, ocl), 0, N, IC, ocl);
      assertThat(out).containsExactly(cols(y, N, oc, r * ocl, ocl));
      float[] dwl = new float[IC * ocl], dbl = new float[ocl], dinFull = new float[N * IC], dinRows = new float[rows * IC];
      ColumnParallelLinear.backward(cx, tp, dinFull, sp ? dinRows : dinFull, dwl, 0, dbl, 0, cols(dy, N, oc, r * ocl, ocl),
          xFull, cols(w, IC, oc, r * ocl, ocl), 0, N, IC, ocl);
      close(sp ? dinRows : dinFull, sp ? rows(dx, IC, tp.rowStart(N), rows) : dx, "dX");
      close(dwl, cols(dw, IC, oc, r * ocl, ocl), "dW");
      close(dbl, cols(db, 1, oc, r * ocl, ocl), "db");
    });
  }

  @ParameterizedTest(name = "t={0} sp={1}")
  @CsvSource({"1,false", "2,false", "3,false", "4,false", "2,true", "3,true", "4,true"})
  void rowParallelLinearMatchesLinear(int t, boolean sp) throws Exception {
    int ic = 12;
    int icl = ic / t;
    int oc = 7;
    float[] x = random(N * ic, 5), w = random(ic * oc, 6), b = random(oc, 7), dy = random(N * oc, 8);
    Compute cx = new Compute(1, new ScalarGemm());
    float[] y = new float[N * oc];
    Linear.forward(cx, y, x, w, 0, b, 0, N, ic, oc);
    float[] dx = new float[N * ic], dw = new float[ic * oc], db = new float[oc];
    Linear.backward(cx, dx, dw, 0, db, 0, dy, x, w, 0, N, ic, oc);
    LocalCluster.run(t, Duration.ofSeconds(20), be -> {
      int r = be.rank();
      TensorParallel tp = new TensorParallel(t == 1 ? null : be.world(), sp);
      int rows = tp.rows(N);
      float[] xl = cols(x, N, ic, r * icl, icl);
      float[] wl = rows(w, oc, r * icl, icl);
      float[] partial = new float[N * oc];
      float[] out = sp ? new float[rows * oc] : partial;
      RowParallelLinear.forward(cx, tp, out, partial, xl, wl, 0, b, 0, N, icl, oc);
      close(java.util.Arrays.copyOf(out, rows * oc), rows(y, oc, tp.rowStart(N), rows), "Y");
      float[] dxl = new float[N * icl], dwl = new float[icl * oc], dbl = new float[oc];
      float[] dyRows = sp ? rows(dy, oc, tp.rowStart(N), rows) : dy.clone();
      RowParallelLinear.backward(cx, tp, dyRows, new float[N * oc], dxl, dwl, 0, dbl, 0, xl, wl, 0, N, icl, oc);
      close(dxl, cols(dx, N, ic, r * icl, icl), "dX");
      close(dwl, rows(dw, oc, r * icl, icl), "dW");
      if (!sp) close(dbl, db, "db");
    });
  }

  @ParameterizedTest(name = "t={0} V={1}")
  @CsvSource({"1,29", "2,29", "3,29", "4,29", "4,32"})
  void vocabularyParallelCrossEntropyMatchesCrossEntropy(int t, int vocab) throws Exception {
    int vp = (vocab + t - 1) / t * t;
    int vl = vp / t;
    float[] logits = random(N * vocab, 9);
    for (int i = 0; i < 5; i++) logits[i * 3] *= 40; // large logits must not overflow
    int[] targets = new int[N];
    SplittableRandom rnd = new SplittableRandom(10);
    for (int i = 0; i < N; i++) targets[i] = rnd.nextInt(vocab);
    Compute cx = new Compute(1, new ScalarGemm());
    float[] want = new float[N];
    float[] grad = logits.clone();
    CrossEntropy.forwardBackward(cx, want, grad, targets, N, vocab, vocab, 0.25f);
    LocalCluster.run(t, Duration.ofSeconds(20), be -> {
      int r = be.rank();
      TensorParallel tp = new TensorParallel(t == 1 ? null : be.world(), false);
      float[] local = new float[N * vl];
      for (int i = 0; i < N; i++) {
        for (int j = 0; j < vl; j++) {
          int col = r * vl + j;
          local[i * vl + j] = col < vocab ? logits[i * vocab + col] : 1e4f; // padding holds garbage: must be masked
        }
      }
      float[] losses = new float[N];
      VocabParallel.crossEntropy(cx, tp, losses, local, targets, N, vocab, vl, r * vl, 0.25f);
      close(losses, want, "losses");
      for (int i = 0; i < N; i++) {
        for (int j = 0; j < vl; j++) {
          int col = r * vl + j;
          float expect = col < vocab ? grad[i * vocab + col] : 0f;
          assertThat(local[i * vl + j]).isCloseTo(expect, org.assertj.core.data.Offset.offset(1e-6f));
        }
      }
    });
  }

  @ParameterizedTest(name = "t={0}")
  @CsvSource({"1", "2", "3", "4"})
  void gatherFromTpAndScatterToTpAreInverse(int t) throws Exception {
    int width = 6 * t;
    float[] full = random(N * width, 11);
    LocalCluster.run(t, Duration.ofSeconds(20), be -> {
      TensorParallel tp = new TensorParallel(t == 1 ? null : be.world(), false);
      float[] local = new float[N * 6];
      Regions.ScatterToTp.forward(tp, full, local, N, 6);
      assertThat(local).containsExactly(cols(full, N, width, be.rank() * 6, 6));
      float[] back = new float[N * width];
      Regions.GatherFromTp.forward(tp, local, back, N, 6);
      assertThat(back).containsExactly(full);
    });
  }
}
