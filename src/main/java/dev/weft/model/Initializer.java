package dev.weft.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Initial weights independent of any device layout: every parameter follows its {@link Init}, a normal
 * draw coming from its own stream seeded by (seed, name) over the whole (full-shape) tensor, of which a rank
 * keeps its slice. So one device, every tensor-parallel rank and every ZeRO shard start from the same model.
 */
public final class Initializer {
  private Initializer() {}

  /**
   * Writes the flat range [from, to) of {@code layout}'s initial parameters into {@code dst} starting at
   * {@code dst[0]} (so a rank can materialise just its shard).
   */
  public static void initialize(ParameterLayout layout, long seed, float[] dst, int from, int to) {
    for (ParameterLayout.Param param : layout.params()) {
      int off = param.offset();
      int lo = Math.max(from, off);
      int hi = Math.min(to, off + param.size());
      if (lo >= hi) continue;
      switch (param.spec().init()) {
        case Init.Constant c -> Arrays.fill(dst, lo - from, hi - from, c.value());
        case Init.Normal n -> {
          SplittableRandom rng = streamFor(seed, param.name());
          // Draw the full tensor (layout-independent), then keep this rank's slice of it.
          int fullSize = (int) param.spec().numel();
          float[] full = new float[fullSize];
          for (int i = 0; i < fullSize; i++) full[i] = (float) (rng.nextGaussian() * n.std());
          float[] local = full;
          if (!param.slice().replicated()) {
            local = new float[param.size()];
            param.slice().extract(full, 0, param.fullShape(), local, 0, param.shape());
          }
          System.arraycopy(local, lo - off, dst, lo - from, hi - lo);
        }
      }
    }
  }

  /** Initialises all of {@code layout} into {@code dst} (length {@code layout.total()}). */
  public static void initialize(ParameterLayout layout, long seed, float[] dst) {
    initialize(layout, seed, dst, 0, layout.total());
  }

  /** The random stream of one named parameter: depends only on the seed and the name. */
  public static SplittableRandom streamFor(long seed, String name) {
    long h = 0xcbf29ce484222325L;
    for (int i = 0; i < name.length(); i++) {
      h ^= name.charAt(i);
      h *= 0x100000001b3L;
    }
    return new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ h);
  }
}
