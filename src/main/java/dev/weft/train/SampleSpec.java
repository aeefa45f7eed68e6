package dev.weft.train;

import dev.weft.WeftInputException;
import dev.weft.data.Gpt2Tokenizer;
import dev.weft.model.ModelSpec;

/**
 * What {@code weft train --sample-every N --prompt TEXT} asks for: every {@code every} steps, rank 0
 * continues {@code prompt} by {@code tokens} tokens from the model as it is then (the full weights gathered
 * from every rank, as a checkpoint save gathers them), at {@code temperature} (0 = greedy), and prints it.
 *
 * @param every       sample after every this many steps (and after the last step)
 * @param prompt      the text to continue
 * @param tokens      tokens to generate
 * @param temperature softmax temperature; 0 picks the most likely token
 * @param tokenizer   the run's GPT-2 tokenizer, or null when the tokens are bytes
 */
public record SampleSpec(int every, String prompt, int tokens, double temperature, Gpt2Tokenizer tokenizer) {
  /** Checks the options against the model, each error naming the fix. */
  public SampleSpec validate(ModelSpec model) {
    if (every < 1) throw new WeftInputException("--sample-every must be >= 1, got " + every + ".");
    if (tokens < 1) throw new WeftInputException("--sample-tokens must be >= 1, got " + tokens + ".");
    if (!(temperature >= 0) || Double.isInfinite(temperature)) {
      throw new WeftInputException("--sample-temperature must be >= 0 (0 = greedy), got " + temperature + ".");
    }
    if (prompt == null || prompt.isEmpty()) {
      throw new WeftInputException("--prompt must not be empty: the sample continues it.");
    }
    if (tokenizer == null && model.vocab() > 256) {
      throw new WeftInputException("--sample-every: the model's vocabulary has " + model.vocab() + " tokens but this "
          + "run has no tokenizer to turn them into text (its data is a prepared token file, or its checkpoint has no "
          + "vocab.json and merges.txt). Start from a --checkpoint folder that has them, or leave --sample-every out "
          + "and sample afterwards with 'weft sample'.");
    }
    return this;
  }

  /** The prompt as token ids: GPT-2 BPE with the tokenizer, else its UTF-8 bytes. */
  int[] promptIds() {
    if (tokenizer != null) return tokenizer.encode(prompt);
    byte[] b = prompt.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int[] ids = new int[b.length];
    for (int i = 0; i < b.length; i++) ids[i] = b[i] & 0xFF;
    return ids;
  }

  /** Token ids as text: decoded with the tokenizer, else as UTF-8 bytes (ids above 255 dropped). */
  String text(int[] ids) {
    if (tokenizer != null) return tokenizer.decode(ids);
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    for (int id : ids) if (id < 256) b.write(id);
    return b.toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}
