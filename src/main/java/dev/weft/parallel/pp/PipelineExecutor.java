package dev.weft.parallel.pp;

import dev.weft.comm.Communicator;
import dev.weft.comm.Handle;
import dev.weft.parallel.pp.Action.Kind;
import dev.weft.tensor.DeviceMemory;
import dev.weft.tensor.Tensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one PP rank's action list of any {@link Schedule} against a {@link StageModel}: the one executor for
 * every generator. Per training step each PP rank calls {@link #run} once with the same schedule; afterwards
 * the model holds the micro-batches' summed weight gradients and (on the last stage's rank) their losses.
 *
 * <p>Buffers: the executor allocates one {@link Tensor} per message on the rank's {@link DeviceMemory} (so
 * they are counted): an activation when a forward produces it or a receive is posted, a gradient when a
 * backward produces it; it frees each once it has been sent, or consumed by the pass that reads it. Neighbouring
 * stages on the same rank (p = 1) hand the buffer over without communication.
 *
 * <p>Communication: over the PP-group communicator (group rank = PP rank), async sends; receives are posted
 * ahead of need (prefetch): the receive at list position i is posted when the {@code prefetch}-th compute action
 * before it starts, so the message arrives while this rank computes. Receives are posted in list order, so the
 * comm thread takes them in the order the schedule's blocking-receive simulation proved deadlock-free. Tags
 * encode (direction, stage boundary, micro-batch) and never collide within a step: bit 30 is set for
 * activations, bits 20..29 hold the boundary b (the message crosses from stage b-1 to b, or back), bits 0..19
 * the micro-batch. The executor uses only tags below 2^31 with this layout on the communicator it is given.
 */
public final class PipelineExecutor {
  /** Receives are posted when the compute action this many compute actions before them starts. */
  public static final int DEFAULT_PREFETCH = 1;

  private final Communicator pp;
  private final DeviceMemory memory;
  private final StageModel model;
  private final int prefetch;

  public PipelineExecutor(Communicator pp, DeviceMemory memory, StageModel model) {
    this(pp, memory, model, DEFAULT_PREFETCH);
  }

  /** @param prefetch how many compute actions ahead receives are posted; 0 posts each when it is reached */
  public PipelineExecutor(Communicator pp, DeviceMemory memory, StageModel model, int prefetch) {
    if (prefetch < 0) throw new IllegalArgumentException("prefetch must be >= 0, got " + prefetch);
    this.pp = pp;
    this.memory = memory;
    this.model = model;
    this.prefetch = prefetch;
  }

  /** The message tag for an activation (or gradient) crossing {@code boundary} for {@code microBatch}. */
  public static int tag(boolean activation, int boundary, int microBatch) {
    if (boundary < 0 || boundary >= 1 << 10 || microBatch < 0 || microBatch >= 1 << 20) {
      throw new IllegalArgumentException("tag out of range: boundary " + boundary + ", micro-batch " + microBatch);
    }
    return (activation ? 1 << 30 : 0) | boundary << 20 | microBatch;
  }

  /** Runs this rank's list of {@code schedule} (rank = the communicator's rank) and returns its timeline. */
  public Timeline run(Schedule schedule) {
    if (schedule.p() != pp.size()) {
      throw new IllegalArgumentException(schedule.describe() + " is for " + schedule.p() + " PP ranks but the PP group has "
          + pp.size());
    }
    if (schedule.stages() > 1 << 10 || schedule.m() > 1 << 20) {
      throw new IllegalArgumentException(schedule.describe() + " exceeds the tag space (1024 stages, 2^20 micro-batches)");
    }
    return new Run(schedule).execute();
  }

  /** The state of one run: buffers by (direction, boundary, micro-batch), posted receives, pending sends. */
  private final class Run {
    private final Schedule schedule;
    private final List<Action> list;
    private final int last;
    private final Timeline timeline;
    private final Map<Long, Tensor> buffers = new HashMap<>();
    private final Map<Integer, Posted> posted = new HashMap<>();
    private final ArrayDeque<Posted> sends = new ArrayDeque<>();
    /** For each list index, the receives (list indices) to post when that compute action starts; key -1: at start. */
    private final Map<Integer, List<Integer>> postAt = new HashMap<>();

    private record Posted(Tensor buffer, Handle handle) {}

    Run(Schedule schedule) {
      this.schedule = schedule;
      this.list = schedule.actions(pp.rank());
      this.last = schedule.stages() - 1;
      this.timeline = new Timeline(pp.rank());
      List<Integer> computes = new ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        Action a = list.get(i);
        if (a.kind().isCompute()) computes.add(i);
        else if (a.kind().isRecv() && prefetch > 0) {
          int trigger = computes.size() >= prefetch ? computes.get(computes.size() - prefetch) : -1;
          postAt.computeIfAbsent(trigger, k -> new ArrayList<>()).add(i);
        }
      }
    }

    Timeline execute() {
      timeline.begin(System.nanoTime());
      try {
        postReceives(-1);
        for (int i = 0; i < list.size(); i++) {
          step(i, list.get(i));
          reapSends(false);
        }
        reapSends(true);
        if (!buffers.isEmpty() || !posted.isEmpty()) {
          throw new IllegalStateException(schedule.describe() + " rank " + pp.rank() + " ended with unconsumed buffers "
              + buffers.keySet().stream().map(Run::describeKey).toList() + " (a schedule bug)");
        }
      } finally {
        for (Tensor t : buffers.values()) t.close();
        for (Posted p : posted.values()) p.buffer().close();
        for (Posted p : sends) p.buffer().close();
        buffers.clear();
        posted.clear();
        sends.clear();
      }
      timeline.end(System.nanoTime());
      return timeline;
    }

    private void step(int i, Action a) {
      if (a.kind().isCompute()) postReceives(i);
      int s = a.stage();
      int mb = a.microBatch();
      long t0 = System.nanoTime();
      switch (a.kind()) {
        case RECV_ACTIVATION, RECV_GRADIENT -> {
          Posted p = posted.remove(i);
          if (p == null) p = post(a);
          p.handle().await();
          put(key(a.kind() == Kind.RECV_ACTIVATION, ScheduleChecker.boundary(a), mb), p.buffer());
        }
        case SEND_ACTIVATION, SEND_GRADIENT -> {
          boolean act = a.kind() == Kind.SEND_ACTIVATION;
          int b = ScheduleChecker.boundary(a);
          Tensor t = take(key(act, b, mb), a);
          sends.add(new Posted(t, pp.sendAsync(t.data(), 0, t.size(), a.peer(), tag(act, b, mb))));
        }
        case FORWARD -> {
          Tensor in = s == 0 ? null : take(key(true, s, mb), a);
          Tensor out = s == last ? null : Tensor.zeros(memory, "pp activation " + s + "->" + (s + 1) + " mb " + mb,
              model.activationLength(s, mb));
          try {
            model.forward(s, mb, in == null ? null : in.data(), out == null ? null : out.data());
          } catch (RuntimeException | Error e) {
            if (out != null) out.close();
            throw e;
          } finally {
            if (in != null) in.close();
          }
          if (out != null) put(key(true, s + 1, mb), out);
        }
        case BACKWARD, BACKWARD_INPUT -> {
          Tensor gOut = s == last ? null : take(key(false, s + 1, mb), a);
          Tensor gIn = s == 0 ? null : Tensor.zeros(memory, "pp gradient " + s + "->" + (s - 1) + " mb " + mb,
              model.activationLength(s - 1, mb));
          try {
            float[] go = gOut == null ? null : gOut.data();
            float[] gi = gIn == null ? null : gIn.data();
            if (a.kind() == Kind.BACKWARD) model.backward(s, mb, go, gi);
            else model.backwardInput(s, mb, go, gi);
          } catch (RuntimeException | Error e) {
            if (gIn != null) gIn.close();
            throw e;
          } finally {
            if (gOut != null) gOut.close();
          }
          if (gIn != null) put(key(false, s, mb), gIn);
        }
        case BACKWARD_WEIGHT -> model.backwardWeight(s, mb);
      }
      timeline.add(a, t0, System.nanoTime());
    }

    /** Posts the receives due when list position {@code trigger} starts (-1: at the start of the run). */
    private void postReceives(int trigger) {
      List<Integer> due = postAt.remove(trigger);
      if (due == null) return;
      for (int j : due) posted.put(j, post(list.get(j)));
    }

    private Posted post(Action a) {
      boolean act = a.kind() == Kind.RECV_ACTIVATION;
      int b = ScheduleChecker.boundary(a);
      int mb = a.microBatch();
      int len = model.activationLength(b - 1, mb);
      Tensor t = Tensor.zeros(memory, "pp " + (act ? "activation " : "gradient ") + "recv b" + b + " mb " + mb, len);
      try {
        return new Posted(t, pp.recvAsync(t.data(), 0, len, a.peer(), tag(act, b, mb)));
      } catch (RuntimeException e) {
        t.close();
        throw e;
      }
    }

    /** Frees the buffers of completed sends (all of them, waiting, when {@code all}). */
    private void reapSends(boolean all) {
      while (!sends.isEmpty() && (all || sends.peek().handle().isDone())) {
        Posted p = sends.poll();
        try {
          p.handle().await();
        } finally {
          p.buffer().close();
        }
      }
    }

    private void put(long key, Tensor t) {
      Tensor old = buffers.put(key, t);
      if (old != null) {
        old.close();
        throw new IllegalStateException(schedule.describe() + " rank " + pp.rank() + ": a second buffer for "
            + describeKey(key) + " (a schedule bug)");
      }
    }

    private Tensor take(long key, Action a) {
      Tensor t = buffers.remove(key);
      if (t == null) {
        throw new IllegalStateException(schedule.describe() + " rank " + pp.rank() + ": " + a + " needs "
            + describeKey(key) + ", which no earlier action produced or received (a schedule bug)");
      }
      return t;
    }

    private static long key(boolean activation, int boundary, int mb) {
      return (activation ? 1L << 62 : 0L) | (long) boundary << 32 | mb;
    }

    private static String describeKey(long k) {
      return ((k >>> 62) == 1 ? "activation" : "gradient") + " at boundary " + ((k >>> 32) & 0x3fffffff)
          + " for micro-batch " + (int) k;
    }
  }
}
