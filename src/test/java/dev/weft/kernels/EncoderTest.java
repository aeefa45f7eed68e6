package dev.weft.kernels;

import static dev.weft.kernels.KernelTesting.*;

import java.util.Random;
import org.junit.jupiter.api.Test;

class EncoderTest {
  static double[] reference(int[] tokens, double[] wte, double[] wpe, int B, int T, int C, int pos) {
    double[] out = new double[B * T * C];
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        for (int c = 0; c < C; c++) {
          out[(b * T + t) * C + c] = wte[tokens[b * T + t] * C + c] + wpe[(pos + t) * C + c];
        }
      }
    }
    return out;
  }

  @Test
  void forwardMatchesReferenceAndBackwardAccumulatesMatchingFiniteDifferences() {
    Random rnd = new Random(41);
    int B = 2, T = 5, C = 19, V = 7, Tmax = 9, pos = 3, wteOff = 4, wpeOff = 6;
    int[] tokens = new int[B * T];
    for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(V);
    tokens[1] = tokens[0]; // a repeated token must accumulate twice
    float[] wte = randn(rnd, wteOff + V * C, 1), wpe = randn(rnd, wpeOff + Tmax * C, 1);
    float[] out = new float[B * T * C];
    Encoder.forward(out, tokens, wte, wteOff, wpe, wpeOff, B, T, C, pos);
    double[] wted = new double[V * C], wped = new double[Tmax * C];
    for (int i = 0; i < V * C; i++) wted[i] = wte[wteOff + i];
    for (int i = 0; i < Tmax * C; i++) wped[i] = wpe[wpeOff + i];
    // a single float add per element: half an ulp
    assertClose("out", out, reference(tokens, wted, wped, B, T, C, pos), 1e-7);

    float[] rr = randn(rnd, B * T * C, 1);
    float[] dwte0 = randn(rnd, wteOff + V * C, 1), dwpe0 = randn(rnd, wpeOff + Tmax * C, 1);
    float[] dwte = dwte0.clone(), dwpe = dwpe0.clone();
    Encoder.backward(dwte, wteOff, dwpe, wpeOff, rr, tokens, B, T, C, pos);
    double[] gte = numericGrad(wted, v -> dotR(reference(tokens, v, wped, B, T, C, pos), rr));
    double[] gpe = numericGrad(wped, v -> dotR(reference(tokens, wted, v, B, T, C, pos), rr));
    double[] ete = new double[wteOff + V * C], epe = new double[wpeOff + Tmax * C];
    System.arraycopy(gte, 0, ete, wteOff, V * C);
    System.arraycopy(gpe, 0, epe, wpeOff, Tmax * C);
    // sums of at most B*T float terms: ~1e-6 relative
    assertAccumulated("dwte", dwte, dwte0, ete, 1e-5);
    assertAccumulated("dwpe", dwpe, dwpe0, epe, 1e-5);
  }
}
