package dev.weft.comm;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every backend's communicator shares: argument checks, size-1 short cuts, the per-communicator
 * comm thread that runs async ops in issue order, statistics, and turning backend failures into
 * {@link CommException}s that name the op, the group and the peer. Backends implement the
 * {@code do*} methods, each returning the number of bytes this rank moved.
 */
public abstract class AbstractCommunicator implements Communicator {
  /** A backend operation; returns the bytes this rank moved. */
  @FunctionalInterface
  protected interface Op {
    long run() throws InterruptedException;
  }

  protected final int[] ranks;
  protected final int me;
  protected final Duration timeout;
  private final CommStats stats = new CommStats();
  private final String label;
  private final AtomicInteger pending = new AtomicInteger();
  private ExecutorService commThread;
  private boolean closed;

  protected AbstractCommunicator(int[] globalRanks, int myGlobalRank, Duration timeout, String label) {
    this.ranks = globalRanks.clone();
    this.me = Arrays.binarySearch(this.ranks, myGlobalRank);
    if (me < 0) throw new IllegalArgumentException("rank " + myGlobalRank + " is not in group " + Arrays.toString(globalRanks));
    this.timeout = timeout;
    this.label = label;
  }

  /** Checks a member list: sorted, distinct, within the world, containing {@code me}. */
  public static void checkGroup(int[] globalRanks, int myRank, int worldSize) {
    if (globalRanks.length == 0) throw new IllegalArgumentException("a group needs at least one rank");
    for (int i = 0; i < globalRanks.length; i++) {
      if (globalRanks[i] < 0 || globalRanks[i] >= worldSize) {
        throw new IllegalArgumentException("group " + Arrays.toString(globalRanks) + " has rank " + globalRanks[i]
            + " outside the world [0, " + worldSize + ")");
      }
      if (i > 0 && globalRanks[i] <= globalRanks[i - 1]) {
        throw new IllegalArgumentException("group " + Arrays.toString(globalRanks) + " must be sorted and distinct");
      }
    }
    if (Arrays.binarySearch(globalRanks, myRank) < 0) {
      throw new IllegalArgumentException("rank " + myRank + " cannot create group " + Arrays.toString(globalRanks)
          + ": it is not a member");
    }
  }

  @Override public int rank() { return me; }
  @Override public int size() { return ranks.length; }
  @Override public int[] globalRanks() { return ranks.clone(); }
  @Override public Duration timeout() { return timeout; }
  @Override public CommStats stats() { return stats; }

  /** "group [0, 2, 4] (rank 1 of 3, global rank 2, local)". */
  public String describe() {
    return "group " + Arrays.toString(ranks) + " (rank " + me + " of " + ranks.length + ", global rank " + ranks[me]
        + ", " + label + ")";
  }

  @Override
  public String toString() {
    return describe();
  }

  // ---- backend operations -------------------------------------------------------------------

  protected abstract long doAllReduce(float[] buf, int off, int len, ReduceOp op) throws InterruptedException;

  protected abstract long doReduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op)
      throws InterruptedException;

  protected abstract long doAllGather(float[] in, int inOff, float[] out, int outOff, int[] counts)
      throws InterruptedException;

  protected abstract long doBroadcast(float[] buf, int off, int len, int root) throws InterruptedException;

  protected abstract long doSend(float[] buf, int off, int len, int peer, int tag) throws InterruptedException;

  protected abstract long doRecv(float[] buf, int off, int len, int peer, int tag) throws InterruptedException;

  protected abstract long doAllToAll(float[] in, int inOff, float[] out, int outOff, int chunk)
      throws InterruptedException;

  protected abstract long doBarrier() throws InterruptedException;

  // ---- blocking forms -------------------------------------------------------------------------

  @Override
  public void allReduce(float[] buf, int off, int len, ReduceOp op) {
    ordered(CommOp.ALL_REDUCE, allReduceOp(buf, off, len, op));
  }

  @Override
  public void reduceScatter(float[] in, int inOff, float[] out, int outOff, int chunk, ReduceOp op) {
    ordered(CommOp.REDUCE_SCATTER, reduceScatterOp(in, inOff, out, outOff, uniform(chunk), op));
  }

  @Override
  public void reduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op) {
    ordered(CommOp.REDUCE_SCATTER, reduceScatterOp(in, inOff, out, outOff, counts, op));
  }

  @Override
  public void allGather(float[] in, int inOff, float[] out, int outOff, int chunk) {
    ordered(CommOp.ALL_GATHER, allGatherOp(in, inOff, out, outOff, uniform(chunk)));
  }

  @Override
  public void allGather(float[] in, int inOff, float[] out, int outOff, int[] counts) {
    ordered(CommOp.ALL_GATHER, allGatherOp(in, inOff, out, outOff, counts));
  }

  @Override
  public void broadcast(float[] buf, int off, int len, int root) {
    ordered(CommOp.BROADCAST, broadcastOp(buf, off, len, root));
  }

  @Override
  public void send(float[] buf, int off, int len, int peer, int tag) {
    run(CommOp.SEND, sendOp(buf, off, len, peer, tag), null);
  }

  @Override
  public void recv(float[] buf, int off, int len, int peer, int tag) {
    ordered(CommOp.RECV, recvOp(buf, off, len, peer, tag));
  }

  @Override
  public void allToAll(float[] in, int inOff, float[] out, int outOff, int chunk) {
    ordered(CommOp.ALL_TO_ALL, allToAllOp(in, inOff, out, outOff, chunk));
  }

  @Override
  public void barrier() {
    ordered(CommOp.BARRIER, barrierOp());
  }

  // ---- async forms ----------------------------------------------------------------------------

  @Override
  public Handle allReduceAsync(float[] buf, int off, int len, ReduceOp op) {
    return async(CommOp.ALL_REDUCE, allReduceOp(buf, off, len, op));
  }

  @Override
  public Handle reduceScatterAsync(float[] in, int inOff, float[] out, int outOff, int chunk, ReduceOp op) {
    return async(CommOp.REDUCE_SCATTER, reduceScatterOp(in, inOff, out, outOff, uniform(chunk), op));
  }

  @Override
  public Handle reduceScatterAsync(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op) {
    return async(CommOp.REDUCE_SCATTER, reduceScatterOp(in, inOff, out, outOff, counts, op));
  }

  @Override
  public Handle allGatherAsync(float[] in, int inOff, float[] out, int outOff, int chunk) {
    return async(CommOp.ALL_GATHER, allGatherOp(in, inOff, out, outOff, uniform(chunk)));
  }

  @Override
  public Handle allGatherAsync(float[] in, int inOff, float[] out, int outOff, int[] counts) {
    return async(CommOp.ALL_GATHER, allGatherOp(in, inOff, out, outOff, counts));
  }

  @Override
  public Handle broadcastAsync(float[] buf, int off, int len, int root) {
    return async(CommOp.BROADCAST, broadcastOp(buf, off, len, root));
  }

  /** Sends never wait for the receiver, so this runs at once in the caller's thread. */
  @Override
  public Handle sendAsync(float[] buf, int off, int len, int peer, int tag) {
    send(buf, off, len, peer, tag);
    return Handle.completed();
  }

  @Override
  public Handle recvAsync(float[] buf, int off, int len, int peer, int tag) {
    return async(CommOp.RECV, recvOp(buf, off, len, peer, tag));
  }

  @Override
  public Handle allToAllAsync(float[] in, int inOff, float[] out, int outOff, int chunk) {
    return async(CommOp.ALL_TO_ALL, allToAllOp(in, inOff, out, outOff, chunk));
  }

  @Override
  public Handle barrierAsync() {
    return async(CommOp.BARRIER, barrierOp());
  }

  // ---- argument checks and size-1 short cuts ---------------------------------------------------

  private Op allReduceOp(float[] buf, int off, int len, ReduceOp op) {
    checkRange("allReduce", buf, off, len);
    if (op == null) throw new NullPointerException("allReduce: op");
    if (size() == 1) return () -> 0;
    return () -> doAllReduce(buf, off, len, op);
  }

  private Op reduceScatterOp(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op) {
    long total = checkCounts("reduceScatter", counts);
    checkRange("reduceScatter input", in, inOff, total);
    checkRange("reduceScatter output", out, outOff, counts[me]);
    if (op == null) throw new NullPointerException("reduceScatter: op");
    if (size() == 1) return () -> { System.arraycopy(in, inOff, out, outOff, counts[0]); return 0; };
    return () -> doReduceScatter(in, inOff, out, outOff, counts, op);
  }

  private Op allGatherOp(float[] in, int inOff, float[] out, int outOff, int[] counts) {
    long total = checkCounts("allGather", counts);
    checkRange("allGather input", in, inOff, counts[me]);
    checkRange("allGather output", out, outOff, total);
    if (size() == 1) return () -> { System.arraycopy(in, inOff, out, outOff, counts[0]); return 0; };
    return () -> doAllGather(in, inOff, out, outOff, counts);
  }

  private Op broadcastOp(float[] buf, int off, int len, int root) {
    checkRange("broadcast", buf, off, len);
    checkPeer("broadcast root", root, true);
    if (size() == 1) return () -> 0;
    return () -> doBroadcast(buf, off, len, root);
  }

  private Op sendOp(float[] buf, int off, int len, int peer, int tag) {
    checkRange("send", buf, off, len);
    checkPeer("send peer", peer, false);
    return () -> doSend(buf, off, len, peer, tag);
  }

  private Op recvOp(float[] buf, int off, int len, int peer, int tag) {
    checkRange("recv", buf, off, len);
    checkPeer("recv peer", peer, false);
    return () -> doRecv(buf, off, len, peer, tag);
  }

  private Op allToAllOp(float[] in, int inOff, float[] out, int outOff, int chunk) {
    if (chunk < 0) throw new IllegalArgumentException("allToAll: negative chunk " + chunk);
    long total = (long) chunk * size();
    checkRange("allToAll input", in, inOff, total);
    checkRange("allToAll output", out, outOff, total);
    if (in == out && inOff < outOff + total && outOff < inOff + total && total > 0) {
      throw new IllegalArgumentException("allToAll: input and output overlap");
    }
    if (size() == 1) return () -> { System.arraycopy(in, inOff, out, outOff, chunk); return 0; };
    return () -> doAllToAll(in, inOff, out, outOff, chunk);
  }

  private Op barrierOp() {
    if (size() == 1) return () -> 0;
    return this::doBarrier;
  }

  private int[] uniform(int chunk) {
    if (chunk < 0) throw new IllegalArgumentException("negative chunk " + chunk);
    int[] c = new int[size()];
    Arrays.fill(c, chunk);
    return c;
  }

  private long checkCounts(String what, int[] counts) {
    if (counts.length != size()) {
      throw new IllegalArgumentException(what + ": " + counts.length + " counts for a group of " + size());
    }
    long total = 0;
    for (int c : counts) {
      if (c < 0) throw new IllegalArgumentException(what + ": negative count in " + Arrays.toString(counts));
      total += c;
    }
    return total;
  }

  private static void checkRange(String what, float[] a, int off, long len) {
    if (a == null) throw new NullPointerException(what + ": buffer");
    if (off < 0 || len < 0 || off + len > a.length) {
      throw new IndexOutOfBoundsException(what + ": range [" + off + ", " + (off + len) + ") outside an array of " + a.length);
    }
  }

  private void checkPeer(String what, int peer, boolean selfAllowed) {
    if (peer < 0 || peer >= size() || (!selfAllowed && peer == me)) {
      throw new IllegalArgumentException(what + " " + peer + " is not another rank of " + describe());
    }
  }

  // ---- execution ------------------------------------------------------------------------------

  /** Runs now if nothing is pending on the comm thread, otherwise after the pending ops. */
  private void ordered(CommOp kind, Op op) {
    if (pending.get() > 0) {
      async(kind, op).await();
    } else {
      run(kind, op, null);
    }
  }

  /**
   * Runs {@code op} and records it: in the caller's thread ({@code async} null: a blocking op, all of it
   * exposed), or on the comm thread for {@code async}, noting when it ran so that await can tell how much of
   * it the caller waited for.
   */
  private void run(CommOp kind, Op op, FutureHandle async) {
    long t0 = System.nanoTime();
    try {
      long bytes = op.run();
      long t1 = System.nanoTime();
      stats.record(kind, bytes, t1 - t0);
      if (async == null) {
        stats.recordExposed(t0, t1);
      } else {
        async.ranFrom = t0;
        async.ranTo = t1;
      }
    } catch (TransportException e) {
      throw new CommException(kind.label() + " on " + describe() + " failed"
          + (e.peer() >= 0 ? " (peer: global rank " + e.peer() + ")" : "") + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CommException(kind.label() + " on " + describe() + " was interrupted", e);
    }
  }

  private Handle async(CommOp kind, Op op) {
    ExecutorService ex = commThread();
    pending.incrementAndGet();
    FutureHandle h = new FutureHandle(kind);
    try {
      h.future = ex.submit(() -> {
        try {
          run(kind, op, h);
        } finally {
          pending.decrementAndGet();
        }
      });
    } catch (RuntimeException e) {
      pending.decrementAndGet();
      throw new CommException(kind.label() + " on " + describe() + ": communicator is closed", e);
    }
    return h;
  }

  private synchronized ExecutorService commThread() {
    if (closed) throw new CommException(describe() + " is closed");
    if (commThread == null) {
      String name = "weft-comm-r" + ranks[me] + "-g" + Arrays.toString(ranks).replace(" ", "");
      commThread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
      });
    }
    return commThread;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (commThread != null) commThread.shutdown();
  }

  /**
   * A handle on an op running on the comm thread. The op's run interval [ranFrom, ranTo] is written by the
   * comm thread before the future completes, so it is visible after {@code future.get()}; the first await
   * records as exposed the part of that interval after the wait began.
   */
  private final class FutureHandle implements Handle {
    private volatile Future<?> future;
    private final CommOp kind;
    long ranFrom;
    long ranTo;
    private boolean exposedRecorded;

    FutureHandle(CommOp kind) {
      this.kind = kind;
    }

    @Override
    public void await() {
      long waitFrom = System.nanoTime();
      try {
        future.get(); // bounded: the op's own waits each time out
        if (!exposedRecorded) {
          exposedRecorded = true;
          long from = Math.max(ranFrom, waitFrom);
          stats.recordExposed(from, Math.max(from, ranTo));
        }
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        if (c instanceof RuntimeException re) throw re;
        if (c instanceof Error err) throw err;
        throw new CommException(kind.label() + " on " + describe() + " failed: " + c, c);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CommException("interrupted while awaiting " + kind.label() + " on " + describe(), e);
      }
    }

    @Override
    public boolean isDone() {
      return future.isDone();
    }
  }
}
