package dev.weft.comm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The meeting point of one group instance in the local backend: a slot per member where it publishes
 * the array it works on, a phase barrier with a timeout that fails fast when any rank of the world
 * has failed, and mailboxes for point-to-point messages keyed by (source, destination, tag).
 */
final class LocalRendezvous {
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  final int n;
  final int[] globalRanks;
  final float[][] arrays;
  final int[] offsets;
  final String[] signatures;
  private final LocalWorld world;
  private final boolean[] here;
  private int arrived;
  private long generation;
  private String broken;
  private final ConcurrentHashMap<Long, LinkedBlockingQueue<float[]>> mail = new ConcurrentHashMap<>();

  LocalRendezvous(LocalWorld world, int[] globalRanks) {
    this.world = world;
    this.globalRanks = globalRanks.clone();
    this.n = globalRanks.length;
    this.arrays = new float[n][];
    this.offsets = new int[n];
    this.signatures = new String[n];
    this.here = new boolean[n];
  }

  /** Publishes member {@code me}'s array and the signature of its op, then waits for everyone. */
  void publishAndArrive(int me, float[] array, int offset, String signature) throws InterruptedException {
    arrays[me] = array;
    offsets[me] = offset;
    signatures[me] = signature;
    arrive(me);
    for (int q = 0; q < n; q++) {
      if (!signatures[q].equals(signature)) {
        String msg = "collectives out of step: this rank issued " + signature + " but global rank " + globalRanks[q]
            + " issued " + signatures[q] + " (every rank of a group must issue the same collectives in the same order)";
        breakWith(msg);
        throw new TransportException(globalRanks[q], msg);
      }
    }
  }

  /** The phase barrier: returns once all n members have arrived in this phase. */
  synchronized void arrive(int me) throws InterruptedException {
    check();
    long gen = generation;
    here[me] = true;
    if (++arrived == n) {
      arrived = 0;
      Arrays.fill(here, false);
      generation++;
      notifyAll();
      return;
    }
    long deadline = System.nanoTime() + world.timeout.toNanos();
    while (generation == gen) {
      check();
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        List<Integer> missing = new ArrayList<>();
        for (int q = 0; q < n; q++) if (!here[q]) missing.add(globalRanks[q]);
        String msg = "timed out after " + world.timeout.toSeconds() + " s waiting for global rank(s) " + missing;
        broken = msg;
        notifyAll();
        throw new TransportException(missing.isEmpty() ? -1 : missing.get(0), msg);
      }
      TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, POLL_NANOS));
    }
  }

  private void check() {
    LocalWorld.Failure f = world.failure();
    if (f != null) throw new TransportException(f.rank(), f.describe(), f.cause());
    if (broken != null) throw new TransportException(-1, "the group is broken: " + broken);
  }

  private synchronized void breakWith(String msg) {
    if (broken == null) broken = msg;
    notifyAll();
  }

  synchronized void wake() {
    notifyAll();
  }

  /** Queues a copy of a message from member src to member dst. */
  void post(int src, int dst, int tag, float[] message) {
    mailbox(src, dst, tag).add(message);
  }

  /** Takes the next message from src to dst with this tag, waiting at most the world's timeout. */
  float[] take(int src, int dst, int tag) throws InterruptedException {
    LinkedBlockingQueue<float[]> box = mailbox(src, dst, tag);
    long deadline = System.nanoTime() + world.timeout.toNanos();
    while (true) {
      float[] m = box.poll(Math.min(POLL_NANOS, Math.max(0, deadline - System.nanoTime())), TimeUnit.NANOSECONDS);
      if (m != null) return m;
      LocalWorld.Failure f = world.failure();
      if (f != null) throw new TransportException(f.rank(), f.describe(), f.cause());
      if (System.nanoTime() - deadline >= 0) {
        throw new TransportException(globalRanks[src], "timed out after " + world.timeout.toSeconds()
            + " s waiting for a message with tag " + tag + " from global rank " + globalRanks[src]);
      }
    }
  }

  private LinkedBlockingQueue<float[]> mailbox(int src, int dst, int tag) {
    long key = (((long) src * n + dst) << 32) | (tag & 0xffffffffL);
    return mail.computeIfAbsent(key, k -> new LinkedBlockingQueue<>());
  }
}
