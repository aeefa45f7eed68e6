package dev.weft.plan;

import dev.weft.WeftInputException;
import java.util.Locale;

/**
 * Training precision and the bytes per parameter it costs.
 *
 * <p>fp32: weights 4 + gradients 4 + Adam moments 8 = 16 bytes per parameter; activations 4 bytes.
 * bf16 mixed precision: weights 2 + gradients 2 + fp32 master weights, momentum and variance 12 = 16
 * bytes per parameter (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion
 * Parameter Models", section 3.1: 2 + 2 + K with K = 12); activations 2 bytes.
 */
public enum Precision {
  FP32(4, 4, 8, 4),
  BF16(2, 2, 12, 2);

  /** Bytes per parameter of the weights the model computes with. */
  public final int weightBytes;
  /** Bytes per parameter of the gradients. */
  public final int gradBytes;
  /** Bytes per parameter of the optimizer state (ZeRO's K). */
  public final int optimizerBytes;
  /** Bytes per activation element. */
  public final int activationBytes;

  Precision(int w, int g, int o, int a) {
    weightBytes = w;
    gradBytes = g;
    optimizerBytes = o;
    activationBytes = a;
  }

  public int modelStateBytes() {
    return weightBytes + gradBytes + optimizerBytes;
  }

  public String cliName() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Precision parse(String s) {
    return switch (s.toLowerCase(Locale.ROOT)) {
      case "fp32", "float32" -> FP32;
      case "bf16", "fp16", "mixed" -> BF16;
      default -> throw new WeftInputException("unknown --precision '" + s + "'. Use fp32 or bf16.");
    };
  }
}
