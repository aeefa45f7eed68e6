package dev.weft.models.llama;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.decoder.Activations;
import dev.weft.decoder.Decoder;
import dev.weft.kernels.Compute;
import dev.weft.kernels.ScalarGemm;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParamSpec;
import dev.weft.model.ParameterLayout;
import dev.weft.tensor.DeviceMemory;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Weft's Llama is Hugging Face's LlamaForCausalLM: on a tiny model (2 layers, C = 24, 6 query heads sharing 2
 * K/V heads of width 4, MLP 20, vocabulary 13) with non-trivial weights and norm gains, Weft's fp32 loss equals an
 * independent float64 reference ({@link LlamaReference}) to 1e-6 relative, and the gradient of every parameter
 * from Weft's backward equals central finite differences of the reference loss, element by element, to 1e-5
 * relative norm error per tensor (measured: ~4e-8 and at most 9e-7); with an untied lm_head and with the head
 * tied to the embedding.
 */
class LlamaReferenceTest {
  static final int B = 2, T = 8;

  static LlamaConfig config(boolean tied) {
    return new LlamaConfig(2, 24, 6, 2, 4, 20, 9, 13, 10000, 1e-5, tied);
  }

  /**
   * Weft's initialisation (seed 7) rescaled so that every path carries signal: linear weights to std
   * 1 / sqrt(fan-in) (attention scores and logits of order 1, so the softmaxes are far from uniform), the
   * embedding to std 0.5, norm gains to 1 + N(0, 0.3^2).
   */
  static void nonTrivialWeights(Decoder model) {
    model.initialize(7);
    float[] w = model.params();
    SplittableRandom r = new SplittableRandom(8);
    for (ParameterLayout.Param p : model.layout().params()) {
      boolean norm = p.shape().length == 1;
      double scale = norm ? 0 : p.name().equals("model.embed_tokens.weight") ? 0.5 / 0.02 : 1 / Math.sqrt(p.shape()[1]) / 0.02;
      for (int i = p.offset(); i < p.offset() + p.size(); i++) {
        w[i] = norm ? (float) (1 + 0.3 * r.nextGaussian()) : (float) (w[i] * scale);
      }
    }
  }

  static int[] tokens(int V) {
    SplittableRandom r = new SplittableRandom(9);
    int[] t = new int[B * (T + 1)];
    for (int i = 0; i < t.length; i++) t[i] = r.nextInt(V);
    return t;
  }

  @ParameterizedTest(name = "tied={0}")
  @ValueSource(booleans = {false, true})
  void lossAndEveryGradientEqualTheFloat64Reference(boolean tied) {
    LlamaConfig c = config(tied);
    ModelSpec spec = c.spec();
    int[] tokens = tokens(c.vocab());
    try (Compute cx = new Compute(2, new ScalarGemm());
         Decoder model = Decoder.onOneDevice(spec, cx, DeviceMemory.unlimited("test"))) {
      nonTrivialWeights(model);
      ParameterLayout layout = model.layout();
      float loss;
      try (Activations act = model.newActivations(B, T)) {
        model.zeroGrad();
        loss = model.forward(act, tokens, 0, 1f / (B * T));
        model.backward(act);
      }
      float[] grads = model.grads();
      double[] w = new double[layout.total()];
      for (int i = 0; i < w.length; i++) w[i] = model.params()[i];

      LlamaReference ref = new LlamaReference(c, layout, tokens, B, T);
      double want = ref.loss(w);
      System.out.printf("Llama tied=%s: loss %.9f, reference %.9f, rel err %.2e%n", tied, loss, want,
          Math.abs(loss - want) / want);
      // fp32 forward: ~30 rounded operations deep, each ~6e-8 relative, sums of at most C = 24 terms; the loss
      // is an average of log-softmaxes of order 1: ~1e-7 relative. 1e-6 leaves margin; a missing rotation, a
      // wrong K/V head or a norm without its gain moves the loss by 1e-3 or more.
      assertThat(Math.abs(loss - want) / want).as("loss").isLessThan(1e-6);

      double[][] fd = finiteDifferences(ref, layout, w);
      for (ParameterLayout.Param p : layout.params()) {
        double d = 0, n = 0;
        for (int i = 0; i < p.size(); i++) {
          double g = grads[p.offset() + i], e = fd[p.offset()][i];
          d += (g - e) * (g - e);
          n += e * e;
        }
        double rel = Math.sqrt(d / n);
        System.out.printf("  %-45s |grad| %.3e  rel err %.2e%n", p.name(), Math.sqrt(n), rel);
        assertThat(n).as("gradient of %s is not trivially zero", p.name()).isGreaterThan(1e-12);
        // fp32 backward vs float64 finite differences (central, step 1e-5 (1 + |w|): truncation ~1e-10,
        // rounding ~1e-11, both negligible). The fp32 gradient carries ~1e-7 relative per operation, amplified by
        // the cancellations of the softmax, RMSNorm and cross-entropy backward to ~1e-6 of a tensor's norm; 1e-5
        // bounds it with margin, while a wrong formula anywhere (rotation sign or pairing, K/V head mapping, q and
        // k swapped, a missing norm gain, silu' wrong) puts some tensor off by 1e-2 or more.
        assertThat(rel).as("gradient of %s", p.name()).isLessThan(1e-5);
      }
    }
  }

  /**
   * d loss / d w for every element of every parameter by central differences of the reference, indexed
   * [param offset][element]. A layer's parameters only change the stream from that layer on, so their
   * differences start from the cached stream entering it (the final norm and head from the last layer's output).
   */
  static double[][] finiteDifferences(LlamaReference ref, ParameterLayout layout, double[] w) {
    ModelSpec spec = layout.spec();
    int L = spec.layers();
    double[][] xs = new double[L + 1][];
    xs[0] = ref.embed(w);
    for (int l = 0; l < L; l++) xs[l + 1] = ref.layer(w, l, xs[l]);
    double[][] g = new double[layout.total()][];
    for (ParameterLayout.Param p : layout.params()) {
      ParamSpec s = spec.param(p.name());
      double[] gp = new double[p.size()];
      for (int i = 0; i < p.size(); i++) {
        int at = p.offset() + i;
        double wi = w[at], h = 1e-5 * (1 + Math.abs(wi));
        w[at] = wi + h;
        double plus = lossFrom(ref, w, s, xs);
        w[at] = wi - h;
        double minus = lossFrom(ref, w, s, xs);
        w[at] = wi;
        gp[i] = (plus - minus) / (2 * h);
      }
      g[p.offset()] = gp;
    }
    return g;
  }

  private static double lossFrom(LlamaReference ref, double[] w, ParamSpec s, double[][] xs) {
    int L = xs.length - 1;
    if (s.region() == ParamSpec.Region.EMBEDDING) return ref.loss(w); // (tied: the head too)
    if (s.region() == ParamSpec.Region.FINAL) return ref.head(w, xs[L]);
    double[] x = xs[s.layer()];
    for (int l = s.layer(); l < L; l++) x = ref.layer(w, l, x);
    return ref.head(w, x);
  }
}
