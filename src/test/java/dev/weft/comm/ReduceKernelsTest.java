package dev.weft.comm;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The vectorised reduction loops against the scalar definition in {@link ReduceOp}, bit for bit, on
 * lengths around the vector width and the chunk size (0, 1, tails), with NaN, signed zeros and
 * non-integer values (so the rank order of the sums matters), for 1 to 6 arrays.
 */
class ReduceKernelsTest {
  private static final int VL = ReduceKernels.S.length();
  private static final int[] LENGTHS = {0, 1, VL - 1, VL, VL + 1, 3 * VL + 5, ReduceKernels.CHUNK - 1,
      ReduceKernels.CHUNK, ReduceKernels.CHUNK + 1, 2 * ReduceKernels.CHUNK + 3 * VL + 7};

  private static float[] random(SplittableRandom r, int len) {
    float[] x = new float[len];
    for (int i = 0; i < len; i++) {
      int k = r.nextInt(50);
      x[i] = k == 0 ? Float.NaN : k == 1 ? -0f : k == 2 ? 0f : (float) (r.nextGaussian() * 1e3);
    }
    return x;
  }

  /** The scalar reference: op over the n arrays in order, finished. */
  private static float[] reference(float[][] a, int[] o, int from, int len, ReduceOp op) {
    float[] acc = Arrays.copyOfRange(a[0], o[0] + from, o[0] + from + len);
    for (int q = 1; q < a.length; q++) op.combine(acc, 0, a[q], o[q] + from, len);
    op.finish(acc, 0, len, a.length);
    return acc;
  }

  @Test
  void fusedAllReduceSegmentMatchesScalarBitForBit() {
    SplittableRandom r = new SplittableRandom(11);
    for (int n = 1; n <= 6; n++) {
      for (int len : LENGTHS) {
        for (ReduceOp op : ReduceOp.values()) {
          float[][] a = new float[n][];
          int[] o = new int[n];
          int from = r.nextInt(3);
          for (int q = 0; q < n; q++) {
            o[q] = r.nextInt(4);
            a[q] = random(r, o[q] + from + len + 2);
          }
          float[][] before = Arrays.stream(a).map(float[]::clone).toArray(float[][]::new);
          float[] want = reference(a, o, from, len, op);
          ReduceKernels.allReduceSegment(a, o, n, from, len, op, new float[4096]);
          for (int q = 0; q < n; q++) {
            float[] got = Arrays.copyOfRange(a[q], o[q] + from, o[q] + from + len);
            assertThat(Arrays.equals(got, want)).as("n %d len %d %s rank %d", n, len, op, q).isTrue();
            // outside the segment: untouched
            assertThat(Arrays.equals(a[q], 0, o[q] + from, before[q], 0, o[q] + from)).isTrue();
            assertThat(Arrays.equals(a[q], o[q] + from + len, a[q].length, before[q], o[q] + from + len, a[q].length)).isTrue();
          }
        }
      }
    }
  }

  @Test
  void reduceToAndCombineFromMatchScalar() {
    SplittableRandom r = new SplittableRandom(12);
    for (int len : LENGTHS) {
      for (ReduceOp op : ReduceOp.values()) {
        float[][] a = {random(r, len), random(r, len), random(r, len)};
        int[] o = {0, 0, 0};
        float[] dst = new float[len + 2];
        ReduceKernels.reduceTo(a, o, 3, 0, len, op, dst, 1);
        assertThat(Arrays.equals(Arrays.copyOfRange(dst, 1, len + 1), reference(a, o, 0, len, op))).isTrue();

        // combineFrom: received little-endian bytes op own, finished for n when asked.
        float[] recv = random(r, len);
        float[] own = random(r, len + 3);
        ByteBuffer bb = ByteBuffer.allocateDirect(4 * len + 8).order(ByteOrder.LITTLE_ENDIAN);
        bb.position(8);
        bb.slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(recv);
        bb.clear();
        for (int finishN : new int[] {0, 3}) {
          float[] want = recv.clone();
          op.combine(want, 0, own, 3, len);
          if (finishN > 0) op.finish(want, 0, len, finishN);
          float[] out = new float[len];
          ReduceKernels.combineFrom(MemorySegment.ofBuffer(bb), 8, own, 3, out, 0, len, op, finishN);
          assertThat(Arrays.equals(out, want)).as("len %d %s finish %d", len, op, finishN).isTrue();
        }
      }
    }
  }

  /** Local all-reduce across chunk boundaries, lengths not divisible by the ranks, rank-order sums. */
  @Test
  void localAllReduceOverChunksMatchesRankOrderSum() throws Exception {
    for (int world : new int[] {2, 3, 4, 5}) {
      for (int len : new int[] {0, 1, world - 1, 2 * ReduceKernels.CHUNK * world + 7}) {
        float[][] inputs = new float[world][];
        SplittableRandom r = new SplittableRandom(world * 1000L + len);
        for (int q = 0; q < world; q++) inputs[q] = random(r, len);
        for (ReduceOp op : ReduceOp.values()) {
          float[] want = reference(inputs, new int[world], 0, len, op);
          LocalCluster.run(world, Duration.ofSeconds(20), b -> {
            float[] x = new float[len + 2];
            x[0] = 5f;
            x[len + 1] = 6f;
            System.arraycopy(inputs[b.rank()], 0, x, 1, len);
            b.world().allReduce(x, 1, len, op);
            assertThat(Arrays.equals(Arrays.copyOfRange(x, 1, len + 1), want)).as("world %d len %d %s", world, len, op)
                .isTrue();
            assertThat(x[0]).isEqualTo(5f);
            assertThat(x[len + 1]).isEqualTo(6f);
          });
        }
      }
    }
  }
}
