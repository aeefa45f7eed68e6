package dev.weft.decoder;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.kernels.Compute;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.kernels.ScalarGemm;
import dev.weft.tensor.DeviceMemory;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class GPT2Test {
  static final ModelSpec TINY = new GPT2Config(2, 12, 3, 7, 11).spec();

  static int[] randomTokens(int rows, int T, int V, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] t = new int[rows * (T + 1)];
    for (int i = 0; i < t.length; i++) t[i] = r.nextInt(V);
    return t;
  }

  /**
   * The whole model's backward against central differences of its forward along random directions:
   * {@code (L(p + e d) - L(p - e d)) / 2e ~ g . d}. The forward is float, so the difference quotient carries
   * about 1e-7 * |L| / e of rounding; with e = 1e-3 and these sizes a mis-wired gradient is off by O(1),
   * a correct one by < 1%.
   */
  @Test
  void backwardMatchesDirectionalDerivativesOfTheLoss() {
    DeviceMemory mem = DeviceMemory.unlimited("test");
    try (Compute cx = new Compute(2, new ScalarGemm()); Decoder model = Decoder.onOneDevice(TINY, cx, mem)) {
      model.initialize(7);
      // Make biases and gains non-trivial so every path carries gradient.
      SplittableRandom r = new SplittableRandom(3);
      float[] p = model.params();
      for (int i = 0; i < p.length; i++) p[i] += (float) (r.nextGaussian() * 0.05);
      int B = 2, T = 6;
      int[] tokens = randomTokens(B, T, TINY.vocab(), 11);
      try (Activations act = model.newActivations(B, T)) {
        model.zeroGrad();
        model.forward(act, tokens, 0, 1f / (B * T));
        model.backward(act);
        float[] g = model.grads().clone();
        for (int trial = 0; trial < 5; trial++) {
          double[] d = new double[p.length];
          double gd = 0;
          for (int i = 0; i < p.length; i++) {
            d[i] = r.nextGaussian();
            gd += g[i] * d[i];
          }
          double e = 1e-3;
          float[] saved = p.clone();
          for (int i = 0; i < p.length; i++) p[i] = (float) (saved[i] + e * d[i]);
          double plus = model.forward(act, tokens, 0, Float.NaN);
          for (int i = 0; i < p.length; i++) p[i] = (float) (saved[i] - e * d[i]);
          double minus = model.forward(act, tokens, 0, Float.NaN);
          System.arraycopy(saved, 0, p, 0, p.length);
          double fd = (plus - minus) / (2 * e);
          assertThat(fd).as("trial %d", trial).isCloseTo(gd, org.assertj.core.data.Offset.offset(0.01 * Math.abs(gd) + 1e-3));
        }
      }
    }
  }

  @Test
  void initialisationDependsOnlyOnSeedAndName() {
    DeviceMemory mem = DeviceMemory.unlimited("test");
    try (Compute cx = Compute.single(); Decoder a = Decoder.onOneDevice(TINY, cx, mem); Decoder b = Decoder.onOneDevice(TINY, cx, mem);
         Decoder c = Decoder.onOneDevice(TINY, cx, mem)) {
      a.initialize(5);
      b.initialize(5);
      c.initialize(6);
      assertThat(a.params()).containsExactly(b.params());
      assertThat(a.params()).isNotEqualTo(c.params());
      float[] w = a.params();
      ParameterLayout.Param ln = a.layout().get("h.1.ln_2.weight");
      for (int i = 0; i < ln.size(); i++) assertThat(w[ln.offset() + i]).isEqualTo(1f);
    }
  }

  @Test
  void gradientsAccumulateAcrossMicroBatches() {
    DeviceMemory mem = DeviceMemory.unlimited("test");
    try (Compute cx = Compute.single(); Decoder model = Decoder.onOneDevice(TINY, cx, mem)) {
      model.initialize(1);
      int T = 5;
      int[] tokens = randomTokens(4, T, TINY.vocab(), 2);
      float[] whole;
      try (Activations act = model.newActivations(4, T)) {
        model.zeroGrad();
        model.forward(act, tokens, 0, 1f / (4 * T));
        model.backward(act);
        whole = model.grads().clone();
      }
      try (Activations act = model.newActivations(2, T)) {
        model.zeroGrad();
        for (int k = 0; k < 2; k++) {
          model.forward(act, tokens, 2 * k, 1f / (4 * T));
          model.backward(act);
        }
      }
      float[] acc = model.grads();
      double err = 0, norm = 0;
      for (int i = 0; i < acc.length; i++) {
        err += (acc[i] - whole[i]) * (double) (acc[i] - whole[i]);
        norm += whole[i] * (double) whole[i];
      }
      assertThat(Math.sqrt(err / norm)).isLessThan(1e-5);
    }
  }

  @Test
  void activationMemoryMatchesItsFormula() {
    DeviceMemory mem = DeviceMemory.unlimited("test");
    try (Compute cx = Compute.single(); Decoder model = Decoder.onOneDevice(TINY, cx, mem)) {
      long before = mem.inUse();
      try (Activations act = model.newActivations(3, 7)) {
        assertThat(mem.inUse() - before).isEqualTo(Float.BYTES * new ActivationShapes(TINY, 3, 7, 1, false)
            .totalFloats(TINY.layers(), false));
      }
      assertThat(mem.inUse()).isEqualTo(before);
    }
  }
}
