package dev.weft.cli;

import dev.weft.comm.Backend;
import dev.weft.comm.CommStats;
import dev.weft.comm.Communicator;
import dev.weft.comm.Handle;
import dev.weft.comm.ReduceOp;
import java.time.Duration;

/**
 * A deliberately wrong gradient reduction, for proving that {@code weft verify} catches one: a backend whose
 * communicators average instead of sum the elements [start, end) of one flat buffer length (the data-parallel
 * gradient buffer of ZeRO stage 0, which is all-reduced in place), as a bucket reduced with the wrong op would.
 * Every other call passes through unchanged.
 */
final class WrongReduction implements Backend {
  private final Backend inner;
  private final int bufferLength, start, end;

  WrongReduction(Backend inner, int bufferLength, int start, int end) {
    this.inner = inner;
    this.bufferLength = bufferLength;
    this.start = start;
    this.end = end;
  }

  @Override public int rank() { return inner.rank(); }
  @Override public int worldSize() { return inner.worldSize(); }
  @Override public String name() { return inner.name(); }
  @Override public String describeTransport(int... globalRanks) { return inner.describeTransport(globalRanks); }
  @Override public void close() { inner.close(); }

  @Override
  public Communicator group(int... globalRanks) {
    return new Wrong(inner.group(globalRanks));
  }

  /** Scales what an all-reduce summed into [start, end) of a matching buffer by 1 / size: an average. */
  private final class Wrong implements Communicator {
    private final Communicator c;

    Wrong(Communicator c) {
      this.c = c;
    }

    private void spoil(float[] buf, int off, int len, ReduceOp op) {
      if (buf.length != bufferLength || op != ReduceOp.SUM || c.size() == 1) return;
      for (int i = Math.max(off, start); i < Math.min(off + len, end); i++) buf[i] /= c.size();
    }

    @Override public void allReduce(float[] buf, int off, int len, ReduceOp op) {
      c.allReduce(buf, off, len, op);
      spoil(buf, off, len, op);
    }

    @Override public Handle allReduceAsync(float[] buf, int off, int len, ReduceOp op) {
      Handle h = c.allReduceAsync(buf, off, len, op);
      return new Handle() {
        private boolean spoiled;

        @Override public void await() {
          h.await();
          if (!spoiled) {
            spoiled = true;
            spoil(buf, off, len, op);
          }
        }

        @Override public boolean isDone() { return h.isDone(); }
      };
    }

    @Override public int rank() { return c.rank(); }
    @Override public int size() { return c.size(); }
    @Override public int[] globalRanks() { return c.globalRanks(); }
    @Override public Duration timeout() { return c.timeout(); }
    @Override public CommStats stats() { return c.stats(); }
    @Override public void reduceScatter(float[] in, int inOff, float[] out, int outOff, int chunk, ReduceOp op) { c.reduceScatter(in, inOff, out, outOff, chunk, op); }
    @Override public void reduceScatter(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op) { c.reduceScatter(in, inOff, out, outOff, counts, op); }
    @Override public void allGather(float[] in, int inOff, float[] out, int outOff, int chunk) { c.allGather(in, inOff, out, outOff, chunk); }
    @Override public void allGather(float[] in, int inOff, float[] out, int outOff, int[] counts) { c.allGather(in, inOff, out, outOff, counts); }
    @Override public void broadcast(float[] buf, int off, int len, int root) { c.broadcast(buf, off, len, root); }
    @Override public void send(float[] buf, int off, int len, int peer, int tag) { c.send(buf, off, len, peer, tag); }
    @Override public void recv(float[] buf, int off, int len, int peer, int tag) { c.recv(buf, off, len, peer, tag); }
    @Override public void allToAll(float[] in, int inOff, float[] out, int outOff, int chunk) { c.allToAll(in, inOff, out, outOff, chunk); }
    @Override public void barrier() { c.barrier(); }
    @Override public Handle reduceScatterAsync(float[] in, int inOff, float[] out, int outOff, int chunk, ReduceOp op) { return c.reduceScatterAsync(in, inOff, out, outOff, chunk, op); }
    @Override public Handle reduceScatterAsync(float[] in, int inOff, float[] out, int outOff, int[] counts, ReduceOp op) { return c.reduceScatterAsync(in, inOff, out, outOff, counts, op); }
    @Override public Handle allGatherAsync(float[] in, int inOff, float[] out, int outOff, int chunk) { return c.allGatherAsync(in, inOff, out, outOff, chunk); }
    @Override public Handle allGatherAsync(float[] in, int inOff, float[] out, int outOff, int[] counts) { return c.allGatherAsync(in, inOff, out, outOff, counts); }
    @Override public Handle broadcastAsync(float[] buf, int off, int len, int root) { return c.broadcastAsync(buf, off, len, root); }
    @Override public Handle sendAsync(float[] buf, int off, int len, int peer, int tag) { return c.sendAsync(buf, off, len, peer, tag); }
    @Override public Handle recvAsync(float[] buf, int off, int len, int peer, int tag) { return c.recvAsync(buf, off, len, peer, tag); }
    @Override public Handle allToAllAsync(float[] in, int inOff, float[] out, int outOff, int chunk) { return c.allToAllAsync(in, inOff, out, outOff, chunk); }
    @Override public Handle barrierAsync() { return c.barrierAsync(); }
    @Override public void close() { c.close(); }
  }
}
