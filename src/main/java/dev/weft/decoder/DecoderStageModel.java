package dev.weft.decoder;

import dev.weft.parallel.pp.PipelineExecutor;
import dev.weft.parallel.pp.StageModel;
import dev.weft.parallel.pp.StagePlan;
import dev.weft.tensor.BufferPool;
import java.util.HashMap;
import java.util.Map;

/**
 * A {@link Decoder} cut into pipeline chunks, as the {@link PipelineExecutor} drives it: chunk s runs blocks
 * [firstLayer(s), firstLayer(s) + layers(s)); chunk 0 also embeds its micro-batch's tokens, the last chunk
 * also runs the final norm, the logits (with the head, or its copy of the tied token embedding) and the loss. Between chunks travels
 * the residual stream [R, C] (R = this rank's rows of the micro-batch: B T, or B T / t under sequence
 * parallelism), forward as activations and backward as their gradients.
 *
 * <p>Every (chunk, micro-batch) forward takes its own {@link Activations} on the rank's device (their arrays
 * reused through a {@link BufferPool}) and keeps them until its backward (or, for zero-bubble schedules,
 * its deferred weight pass) has run, then gives them back: the schedule decides how many are alive at once
 * (m for GPipe, at most p for 1F1B). What a pass needs only while it runs (backward scratch; under
 * recomputation one block's activations) is one {@link Workspace} per rank, shared by all of them: the
 * executor runs one action at a time.
 */
public final class DecoderStageModel implements StageModel, AutoCloseable {
  private final Decoder model;
  private final StagePlan plan;
  private final int microBatch;
  private final int seqLen;
  private final boolean deferWeights;
  private final boolean recompute;
  private final Map<Long, Activations> stash = new HashMap<>();
  private Workspace workspace;
  /** The stash's arrays, reused from micro-batch to micro-batch (charged only while stashed). */
  private final BufferPool pool;
  private int[] tokens;
  private float lossScale;
  private double lossSum;
  private int losses;

  /**
   * @param model        this rank's share of the model (its layout holds the blocks of its chunks)
   * @param microBatch   sequences per micro-batch
   * @param deferWeights split backward into input and deferred weight passes (zero-bubble schedules)
   * @param recompute    blocks keep only their outputs; backward recomputes the rest (not with deferWeights)
   */
  public DecoderStageModel(Decoder model, StagePlan plan, int microBatch, int seqLen, boolean deferWeights, boolean recompute) {
    if (deferWeights && recompute) {
      throw new IllegalArgumentException("deferred weight passes need every block's activations; recomputation drops them");
    }
    this.recompute = recompute;
    this.model = model;
    this.pool = new BufferPool(model.memory());
    this.plan = plan;
    this.microBatch = microBatch;
    this.seqLen = seqLen;
    this.deferWeights = deferWeights;
  }

  /** The step's token rows ([m * microBatch, T+1], micro-batch k at rows k * microBatch) and loss scale. */
  public void beginStep(int[] tokens, float lossScale) {
    this.tokens = tokens;
    this.lossScale = lossScale;
    this.lossSum = 0;
    this.losses = 0;
  }

  /** Mean over the step's micro-batches of their mean losses (on the rank that runs the last chunk; else 0). */
  public double meanLoss() {
    return losses == 0 ? 0 : lossSum / losses;
  }

  /** Activations still stashed (0 after a complete step). */
  public int stashed() {
    return stash.size();
  }

  @Override
  public int activationLength(int stage, int mb) {
    return model.tensorParallel().rows(microBatch * seqLen) * model.spec().dModel();
  }

  private boolean[] layersOf(int stage) {
    boolean[] l = new boolean[model.spec().layers()];
    for (int i = plan.firstLayer(stage); i < plan.firstLayer(stage) + plan.layers(stage); i++) l[i] = true;
    return l;
  }

  private static long key(int stage, int mb) {
    return ((long) stage << 32) | mb;
  }

  @Override
  public void forward(int stage, int mb, float[] input, float[] output) {
    boolean head = plan.hasHead(stage);
    Activations act = model.newStageActivations(microBatch, seqLen, layersOf(stage), head, workspace(), pool);
    stash.put(key(stage, mb), act);
    int first = plan.firstLayer(stage);
    int end = first + plan.layers(stage);
    if (plan.hasEmbedding(stage) || head) model.loadTokens(act, tokens, mb * microBatch);
    if (plan.hasEmbedding(stage)) {
      model.embedForward(act);
    } else {
      System.arraycopy(input, 0, act.encoded, 0, input.length);
    }
    model.blocksForward(act, first, end);
    if (head) {
      lossSum += model.headForward(act, lossScale);
      losses++;
    } else {
      System.arraycopy(act.res3[end - 1], 0, output, 0, output.length);
    }
  }

  @Override
  public void backwardInput(int stage, int mb, float[] gradOutput, float[] gradInput) {
    Activations act = stash.get(key(stage, mb));
    int first = plan.firstLayer(stage);
    int end = first + plan.layers(stage);
    if (plan.hasHead(stage)) {
      model.headBackward(act, deferWeights);
    } else {
      System.arraycopy(gradOutput, 0, act.dres, 0, gradOutput.length);
    }
    model.blocksBackward(act, first, end, deferWeights);
    if (plan.hasEmbedding(stage)) {
      model.embedBackward(act, false);
    } else {
      System.arraycopy(act.dres, 0, gradInput, 0, gradInput.length);
    }
  }

  @Override
  public void backwardWeight(int stage, int mb) {
    Activations act = stash.remove(key(stage, mb));
    if (deferWeights) {
      int first = plan.firstLayer(stage);
      if (plan.hasHead(stage)) {
        model.headWeightBackward(act);
        model.headWeightsDone();
      }
      model.blocksWeightBackward(act, first, first + plan.layers(stage));
    }
    act.close();
  }

  /** The model this rank's chunks belong to. */
  public Decoder model() {
    return model;
  }

  /** The rank's shared workspace (allocated at the first use). */
  public Workspace workspace() {
    if (workspace == null) workspace = model.newWorkspace(microBatch, seqLen, recompute);
    return workspace;
  }

  /** Frees whatever a failed step left stashed. */
  public void clear() {
    for (Activations a : stash.values()) a.close();
    stash.clear();
  }

  /** Frees the stash and the workspace. */
  @Override
  public void close() {
    clear();
    if (workspace != null) workspace.close();
    workspace = null;
    pool.clear();
  }
}
