package dev.weft.comm;

import dev.weft.mesh.Axis;
import dev.weft.mesh.ParallelLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One rank's side of the collective property checks, for any backend: every collective on the
 * rank's group (taken from a layout), on inputs every rank can regenerate for every other rank, each
 * result compared with a plain sequential computation. Inputs are small integers, so sums are exact
 * in any order and results are compared bit for bit. Margins around each range must stay untouched.
 */
final class CollectiveChecks {
  private static final int MARGIN = 3;
  private static final float GUARD = -7777f;

  private final Backend backend;
  private final long seed;
  private final int[] group;
  private final Communicator comm;
  private int opIndex;

  CollectiveChecks(Backend backend, long seed, ParallelLayout layout, Axis... axes) {
    this.backend = backend;
    this.seed = seed;
    this.group = layout.groupRanks(backend.rank(), axes);
    this.comm = backend.group(group);
  }

  /** Runs every check for each length; returns a checksum of the results that are the same on every rank of the group. */
  double runAll(int... lengths) {
    double checksum = 0;
    int n = group.length;
    for (int len : lengths) {
      for (ReduceOp op : ReduceOp.values()) checksum += allReduce(len, op);
      reduceScatter(len, ReduceOp.SUM); // per-rank results: checked, not in the group checksum
      reduceScatterCounts(len, ReduceOp.MAX);
      checksum += allGather(len);
      checksum += allGatherCounts(len);
      checksum += broadcast(len, len % n);
      allToAll(len % 5 + (len > 100 ? 50 : 0));
      sendRecvRing(len);
      checksum += asyncAllReduces(len);
      comm.barrier();
    }
    return checksum;
  }

  Communicator communicator() {
    return comm;
  }

  /** Rank {@code globalRank}'s input for the current op: integers in [-1000, 1000]. */
  private float[] input(int globalRank, int len) {
    SplittableRandom r = new SplittableRandom(seed * 1_000_003L + globalRank * 7919L + opIndex * 104_729L);
    float[] x = new float[len];
    for (int i = 0; i < len; i++) x[i] = r.nextInt(-1000, 1001);
    return x;
  }

  private int[] randomCounts(int total) {
    SplittableRandom r = new SplittableRandom(seed + opIndex * 31L + total);
    int n = group.length;
    int[] c = new int[n];
    for (int i = 0; i < total; i++) c[r.nextInt(n)]++;
    return c;
  }

  private static float[] padded(float[] x) {
    float[] p = new float[x.length + 2 * MARGIN];
    Arrays.fill(p, GUARD);
    System.arraycopy(x, 0, p, MARGIN, x.length);
    return p;
  }

  private void expect(String what, float[] expected, float[] paddedActual) {
    for (int i = 0; i < MARGIN; i++) {
      check(paddedActual[i] == GUARD && paddedActual[paddedActual.length - 1 - i] == GUARD, what + ": wrote outside its range");
    }
    float[] actual = Arrays.copyOfRange(paddedActual, MARGIN, MARGIN + expected.length);
    if (!Arrays.equals(expected, actual)) {
      int i = Arrays.mismatch(expected, actual);
      throw new AssertionError(what + " on group " + Arrays.toString(group) + " at global rank " + backend.rank()
          + ": element " + i + " of " + expected.length + " is " + actual[i] + ", expected " + expected[i]);
    }
  }

  private static void check(boolean ok, String message) {
    if (!ok) throw new AssertionError(message);
  }

  private float[] reduce(int len, ReduceOp op, int from) {
    float[] acc = null;
    for (int g : group) {
      float[] x = Arrays.copyOfRange(input(g, from + len), from, from + len);
      if (acc == null) acc = x;
      else op.combine(acc, 0, x, 0, len);
    }
    op.finish(acc, 0, len, group.length);
    return acc;
  }

  private static double sum(float[] x) {
    double s = 0;
    for (float v : x) s += v;
    return s;
  }

  double allReduce(int len, ReduceOp op) {
    opIndex++;
    float[] buf = padded(input(backend.rank(), len));
    comm.allReduce(buf, MARGIN, len, op);
    float[] want = reduce(len, op, 0);
    expect("allReduce(" + len + ", " + op + ")", want, buf);
    return sum(want);
  }

  double reduceScatter(int chunk, ReduceOp op) {
    opIndex++;
    int n = group.length;
    float[] in = padded(input(backend.rank(), n * chunk));
    float[] out = padded(new float[chunk]);
    comm.reduceScatter(in, MARGIN, out, MARGIN, chunk, op);
    float[] want = reduce(chunk, op, comm.rank() * chunk);
    expect("reduceScatter(chunk " + chunk + ")", want, out);
    return sum(want);
  }

  double reduceScatterCounts(int total, ReduceOp op) {
    opIndex++;
    int[] counts = randomCounts(total);
    long[] o = Communicator.offsets(counts);
    float[] in = padded(input(backend.rank(), total));
    float[] out = padded(new float[counts[comm.rank()]]);
    comm.reduceScatter(in, MARGIN, out, MARGIN, counts, op);
    float[] want = reduce(counts[comm.rank()], op, (int) o[comm.rank()]);
    expect("reduceScatter(counts " + Arrays.toString(counts) + ")", want, out);
    return sum(want);
  }

  double allGather(int chunk) {
    opIndex++;
    int n = group.length;
    float[] in = padded(input(backend.rank(), chunk));
    float[] out = padded(new float[n * chunk]);
    comm.allGather(in, MARGIN, out, MARGIN, chunk);
    float[] want = new float[n * chunk];
    for (int q = 0; q < n; q++) System.arraycopy(input(group[q], chunk), 0, want, q * chunk, chunk);
    expect("allGather(chunk " + chunk + ")", want, out);
    return sum(want);
  }

  double allGatherCounts(int total) {
    opIndex++;
    int[] counts = randomCounts(total);
    long[] o = Communicator.offsets(counts);
    float[] in = padded(input(backend.rank(), counts[comm.rank()]));
    float[] out = padded(new float[total]);
    comm.allGather(in, MARGIN, out, MARGIN, counts);
    float[] want = new float[total];
    for (int q = 0; q < group.length; q++) System.arraycopy(input(group[q], counts[q]), 0, want, (int) o[q], counts[q]);
    expect("allGather(counts " + Arrays.toString(counts) + ")", want, out);
    return sum(want);
  }

  double broadcast(int len, int root) {
    opIndex++;
    float[] buf = padded(input(backend.rank(), len));
    comm.broadcast(buf, MARGIN, len, root);
    float[] want = input(group[root], len);
    expect("broadcast(" + len + ", root " + root + ")", want, buf);
    return sum(want);
  }

  double allToAll(int chunk) {
    opIndex++;
    int n = group.length;
    float[] in = padded(input(backend.rank(), n * chunk));
    float[] out = padded(new float[n * chunk]);
    comm.allToAll(in, MARGIN, out, MARGIN, chunk);
    float[] want = new float[n * chunk];
    for (int q = 0; q < n; q++) System.arraycopy(input(group[q], n * chunk), comm.rank() * chunk, want, q * chunk, chunk);
    expect("allToAll(chunk " + chunk + ")", want, out);
    return sum(want);
  }

  /** Each rank sends two tagged messages to the next rank of the ring and receives them from the previous. */
  double sendRecvRing(int len) {
    opIndex++;
    int n = group.length;
    if (n == 1) return 0;
    int next = (comm.rank() + 1) % n;
    int prev = (comm.rank() + n - 1) % n;
    float[] mine = input(backend.rank(), len + 1);
    comm.send(mine, 0, len, next, 7);
    comm.sendAsync(mine, 1, len, next, 8).await();
    float[] a = padded(new float[len]);
    float[] b = padded(new float[len]);
    Handle hb = comm.recvAsync(b, MARGIN, len, prev, 8); // tags are matched separately
    comm.recv(a, MARGIN, len, prev, 7);
    hb.await();
    float[] theirs = input(group[prev], len + 1);
    expect("recv tag 7", Arrays.copyOfRange(theirs, 0, len), a);
    expect("recv tag 8", Arrays.copyOfRange(theirs, 1, len + 1), b);
    return sum(theirs);
  }

  /** Two async all-reduces in flight, then a blocking one that must run after them. */
  double asyncAllReduces(int len) {
    opIndex++;
    float[] x = padded(input(backend.rank(), len));
    Handle h1 = comm.allReduceAsync(x, MARGIN, len, ReduceOp.SUM);
    opIndex++;
    float[] y = padded(input(backend.rank(), len));
    Handle h2 = comm.allReduceAsync(y, MARGIN, len, ReduceOp.MAX);
    opIndex++;
    float[] z = padded(input(backend.rank(), len));
    comm.allReduce(z, MARGIN, len, ReduceOp.AVG);
    h2.await();
    h1.await();
    check(h1.isDone() && h2.isDone(), "handles done after await");
    opIndex -= 2;
    expect("async allReduce SUM", reduce(len, ReduceOp.SUM, 0), x);
    opIndex++;
    expect("async allReduce MAX", reduce(len, ReduceOp.MAX, 0), y);
    opIndex++;
    expect("allReduce AVG after async", reduce(len, ReduceOp.AVG, 0), z);
    return sum(reduce(len, ReduceOp.SUM, 0));
  }
}
