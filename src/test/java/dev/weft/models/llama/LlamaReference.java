package dev.weft.models.llama;

import dev.weft.model.ParameterLayout;

/**
 * An independent float64 model of Hugging Face's {@code LlamaForCausalLM}, written from its definition (it
 * calls none of Weft's kernels): token embedding lookup; per decoder layer
 * {@code h = x + o_proj(attn(input_layernorm(x)))}, {@code x' = h + down_proj(silu(gate_proj(n)) * up_proj(n))}
 * with {@code n = post_attention_layernorm(h)}; attention with q, k, v projections split into heads
 * ([T, H, hd] per sequence), rotary embeddings on q and k ({@code x cos + rotate_half(x) sin},
 * {@code inv_freq_i = 1 / theta^(2i/hd)}, position ids 0..T-1), K/V heads repeated to the query heads
 * ({@code repeat_kv}: query head h reads K/V head h / (H / KV)), causal softmax of {@code q k^T / sqrt(hd)}, heads
 * concatenated; LlamaRMSNorm {@code weight * x / sqrt(mean(x^2) + eps)}; final norm; logits by {@code lm_head}
 * (or the embedding when tied); the mean cross-entropy of the next token over all B T positions.
 *
 * <p>Weights are read by name from a flat array laid out by {@link ParameterLayout} (HF's names and [out, in]
 * shapes), so the reference is fed exactly the weights Weft trains. The forward is split at the residual stream
 * between layers so that finite differences of a layer's parameters can start from that layer.
 */
final class LlamaReference {
  private final LlamaConfig c;
  private final ParameterLayout layout;
  private final int B, T;
  private final int[] tokens;
  private final double[] cos, sin; // [T, hd]: cos(t inv_freq) repeated over both halves, as HF's cat(freqs, freqs)

  /** For B sequences of T+1 token ids (inputs the first T of each row, targets the last T). */
  LlamaReference(LlamaConfig c, ParameterLayout layout, int[] tokens, int B, int T) {
    this.c = c;
    this.layout = layout;
    this.tokens = tokens;
    this.B = B;
    this.T = T;
    int hd = c.headDim();
    cos = new double[T * hd];
    sin = new double[T * hd];
    for (int t = 0; t < T; t++) {
      for (int i = 0; i < hd / 2; i++) {
        double invFreq = 1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / hd);
        double a = t * invFreq;
        cos[t * hd + i] = cos[t * hd + hd / 2 + i] = Math.cos(a);
        sin[t * hd + i] = sin[t * hd + hd / 2 + i] = Math.sin(a);
      }
    }
  }

  /** The mean next-token cross-entropy of the whole model. */
  double loss(double[] w) {
    double[] x = embed(w);
    for (int l = 0; l < c.layers(); l++) x = layer(w, l, x);
    return head(w, x);
  }

  /** The residual stream entering layer 0: [B T, C] rows of model.embed_tokens.weight. */
  double[] embed(double[] w) {
    int C = c.dModel(), E = off("model.embed_tokens.weight");
    double[] x = new double[B * T * C];
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        int tok = tokens[b * (T + 1) + t];
        System.arraycopy(w, E + tok * C, x, (b * T + t) * C, C);
      }
    }
    return x;
  }

  /** LlamaDecoderLayer l on the residual stream x [B T, C]; returns the new stream. */
  double[] layer(double[] w, int l, double[] x) {
    int C = c.dModel(), H = c.heads(), KV = c.kvHeads(), hd = c.headDim(), F = c.ffn(), N = B * T;
    String p = "model.layers." + l + ".";
    double[] n1 = rmsNorm(x, w, off(p + "input_layernorm.weight"), N, C);
    double[] q = linear(n1, w, off(p + "self_attn.q_proj.weight"), N, C, H * hd);
    double[] k = linear(n1, w, off(p + "self_attn.k_proj.weight"), N, C, KV * hd);
    double[] v = linear(n1, w, off(p + "self_attn.v_proj.weight"), N, C, KV * hd);
    rotary(q, H);
    rotary(k, KV);
    double[] att = attention(q, k, v);
    double[] o = linear(att, w, off(p + "self_attn.o_proj.weight"), N, H * hd, C);
    double[] h = add(x, o);
    double[] n2 = rmsNorm(h, w, off(p + "post_attention_layernorm.weight"), N, C);
    double[] gate = linear(n2, w, off(p + "mlp.gate_proj.weight"), N, C, F);
    double[] up = linear(n2, w, off(p + "mlp.up_proj.weight"), N, C, F);
    double[] act = new double[N * F];
    for (int i = 0; i < N * F; i++) act[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i]; // silu(gate) * up
    return add(h, linear(act, w, off(p + "mlp.down_proj.weight"), N, F, C));
  }

  /** Final norm, logits and the mean cross-entropy, from the stream leaving the last layer. */
  double head(double[] w, double[] x) {
    int C = c.dModel(), V = c.vocab(), N = B * T;
    double[] n = rmsNorm(x, w, off("model.norm.weight"), N, C);
    double[] logits = linear(n, w, off(c.tied() ? "model.embed_tokens.weight" : "lm_head.weight"), N, C, V);
    double sum = 0;
    for (int b = 0; b < B; b++) {
      for (int t = 0; t < T; t++) {
        int r = b * T + t, target = tokens[b * (T + 1) + t + 1];
        double m = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < V; j++) m = Math.max(m, logits[r * V + j]);
        double z = 0;
        for (int j = 0; j < V; j++) z += Math.exp(logits[r * V + j] - m);
        sum += m + Math.log(z) - logits[r * V + target];
      }
    }
    return sum / N;
  }

  private int off(String name) {
    return layout.offset(name);
  }

  /** LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps) over rows of width C. */
  private double[] rmsNorm(double[] x, double[] w, int wOff, int N, int C) {
    double[] y = new double[N * C];
    for (int r = 0; r < N; r++) {
      double ss = 0;
      for (int i = 0; i < C; i++) ss += x[r * C + i] * x[r * C + i];
      double inv = 1 / Math.sqrt(ss / C + c.rmsEps());
      for (int i = 0; i < C; i++) y[r * C + i] = w[wOff + i] * (x[r * C + i] * inv);
    }
    return y;
  }

  /** nn.Linear without bias: y [N, out] = x [N, in] W^T with W [out, in] at wOff. */
  private static double[] linear(double[] x, double[] w, int wOff, int N, int in, int out) {
    double[] y = new double[N * out];
    for (int r = 0; r < N; r++) {
      for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++) s += x[r * in + i] * w[wOff + o * in + i];
        y[r * out + o] = s;
      }
    }
    return y;
  }

  private static double[] add(double[] a, double[] b) {
    double[] y = new double[a.length];
    for (int i = 0; i < a.length; i++) y[i] = a[i] + b[i];
    return y;
  }

  /** apply_rotary_pos_emb on rows [B T, heads hd] in place: x cos + rotate_half(x) sin, rotate_half = cat(-x2, x1). */
  private void rotary(double[] x, int heads) {
    int hd = c.headDim(), half = hd / 2;
    double[] rot = new double[hd];
    for (int r = 0; r < B * T; r++) {
      int t = r % T; // position_ids = arange(T) for every sequence
      for (int h = 0; h < heads; h++) {
        int o = (r * heads + h) * hd;
        for (int i = 0; i < half; i++) {
          rot[i] = -x[o + half + i];
          rot[half + i] = x[o + i];
        }
        for (int d = 0; d < hd; d++) x[o + d] = x[o + d] * cos[t * hd + d] + rot[d] * sin[t * hd + d];
      }
    }
  }

  /**
   * Causal scaled-dot-product attention of q [B T, H hd] over k, v [B T, KV hd] after repeat_kv (query head h
   * reads K/V head h / (H / KV)); returns the heads concatenated, [B T, H hd].
   */
  private double[] attention(double[] q, double[] k, double[] v) {
    int H = c.heads(), KV = c.kvHeads(), hd = c.headDim(), nRep = H / KV;
    double scale = 1 / Math.sqrt(hd);
    double[] out = new double[B * T * H * hd];
    double[] s = new double[T];
    for (int b = 0; b < B; b++) {
      for (int h = 0; h < H; h++) {
        int kvh = h / nRep; // repeat_kv: expand(b, KV, nRep, T, hd).reshape(b, KV nRep, T, hd)
        for (int i = 0; i < T; i++) {
          int qo = ((b * T + i) * H + h) * hd;
          double m = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            int ko = ((b * T + j) * KV + kvh) * hd;
            double dot = 0;
            for (int d = 0; d < hd; d++) dot += q[qo + d] * k[ko + d];
            s[j] = dot * scale;
            m = Math.max(m, s[j]);
          }
          double z = 0;
          for (int j = 0; j <= i; j++) {
            s[j] = Math.exp(s[j] - m);
            z += s[j];
          }
          for (int j = 0; j <= i; j++) {
            int vo = ((b * T + j) * KV + kvh) * hd;
            for (int d = 0; d < hd; d++) out[qo + d] += s[j] / z * v[vo + d];
          }
        }
      }
    }
    return out;
  }
}
