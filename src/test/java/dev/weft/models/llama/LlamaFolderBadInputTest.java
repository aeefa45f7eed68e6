package dev.weft.models.llama;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.cli.Main;
import dev.weft.io.SafeTensorsWriter;
import dev.weft.model.ModelShape;
import dev.weft.model.ModelSpec;
import dev.weft.model.ParamSpec;
import dev.weft.models.Families;
import dev.weft.models.ModelFolder;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hugging Face Llama folders that are wrong in one way each, written with SafeTensorsWriter: {@code weft grads} and
 * {@code weft train --checkpoint} exit 2 with a message naming the tensor or field and the fix, and write nothing.
 * The same folder unharmed runs (exit 0), so each refusal is the fault's.
 */
class LlamaFolderBadInputTest {
  static final ObjectMapper JSON = new ObjectMapper();
  /** llama-micro cut to 2 layers: 4 query heads of 32 over 2 key/value heads, untied head. */
  static final ModelSpec SPEC = Families.preset("llama-micro", new ModelShape(2, null, null, null, null, 16, null));

  @TempDir static Path dir;
  static Path tokens;

  record Run(int code, String err) {}

  @BeforeAll
  static void tokensFile() {
    SplittableRandom r = new SplittableRandom(7);
    int[] ids = new int[2 * 9];
    for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(SPEC.vocab());
    tokens = dir.resolve("tokens.safetensors");
    new SafeTensorsWriter().addInts("tokens", ids, 2, 9).write(tokens);
  }

  /** A folder of {@code SPEC}'s config (edited by {@code config}) and seeded tensors (kept by {@code keep}, reshaped). */
  static Path folder(String name, Consumer<ObjectNode> config, Predicate<String> keep, String reshape, int[] shape)
      throws IOException {
    Path d = dir.resolve(name);
    Files.createDirectories(d);
    ModelFolder.writeConfig(d, SPEC);
    ObjectNode c = (ObjectNode) JSON.readTree(d.resolve(ModelFolder.CONFIG).toFile());
    config.accept(c);
    Files.writeString(d.resolve(ModelFolder.CONFIG), JSON.writeValueAsString(c));
    SplittableRandom r = new SplittableRandom(name.hashCode());
    SafeTensorsWriter w = new SafeTensorsWriter();
    for (ParamSpec p : SPEC.params()) {
      if (!keep.test(p.name())) continue;
      int[] s = p.name().equals(reshape) ? shape : p.shape();
      float[] data = new float[Arrays.stream(s).reduce(1, (a, b) -> a * b)];
      for (int i = 0; i < data.length; i++) data[i] = (float) (0.02 * (r.nextDouble() * 2 - 1));
      w.add(p.name(), data, s);
    }
    w.write(d.resolve(ModelFolder.WEIGHTS));
    return d;
  }

  static Path folder(String name, Consumer<ObjectNode> config) throws IOException {
    return folder(name, config, n -> true, null, null);
  }

  static Run grads(Path checkpoint, Path out) {
    StringWriter sw = new StringWriter();
    int code = Main.execute(new PrintWriter(sw, true), "grads", "--checkpoint", checkpoint.toString(), "--tokens",
        tokens.toString(), "--out", out.toString(), "--threads", "1");
    return new Run(code, sw.toString());
  }

  /** Exit 2, one "weft:" message with every fragment, no stack trace, no output file. */
  static void refused(Path checkpoint, String... fragments) {
    Path out = dir.resolve(checkpoint.getFileName() + "-grads.safetensors");
    Run r = grads(checkpoint, out);
    assertThat(r.code()).as(r.err()).isEqualTo(2);
    assertThat(r.err()).startsWith("weft: ").doesNotContain("\tat ").contains(fragments);
    assertThat(out).doesNotExist();
  }

  @Test
  void theUnharmedFolderRuns() throws IOException {
    Path out = dir.resolve("ok-grads.safetensors");
    Run r = grads(folder("ok", c -> { }), out);
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(out).exists();
  }

  @Test
  void aMissingTensorIsNamedWithItsShapeAndTheFix() throws IOException {
    String gone = "model.layers.1.mlp.up_proj.weight";
    refused(folder("missing", c -> { }, n -> !n.equals(gone), null, null),
        gone + " [" + SPEC.ffn() + ", " + SPEC.dModel() + "]", "re-download", "fix config.json");
  }

  @Test
  void aTensorOfTheWrongShapeIsNamedWithBothShapes() throws IOException {
    String k = "model.layers.0.self_attn.k_proj.weight";
    int c = SPEC.dModel();
    refused(folder("shape", x -> { }, n -> true, k, new int[] {c, c}), k, "[" + c + ", " + c + "]",
        "[" + SPEC.kvHeads() * SPEC.headDim() + ", " + c + "]");
  }

  @Test
  void aTiedFlagThatContradictsTheTensorsIsNamedBothWays() throws IOException {
    // lm_head.weight present, yet tie_word_embeddings true.
    refused(folder("tied-with-head", c -> c.put("tie_word_embeddings", true)), "lm_head.weight",
        "tie_word_embeddings is true", "set tie_word_embeddings to false");
    // No lm_head.weight, yet tie_word_embeddings false.
    refused(folder("untied-without-head", c -> { }, n -> !n.equals("lm_head.weight"), null, null),
        "no tensor 'lm_head.weight'", "tie_word_embeddings is false", "Set tie_word_embeddings to true");
  }

  @Test
  void unsupportedConfigFieldsAreRefusedByName() throws IOException {
    refused(folder("rope-llama3", c -> {
      ObjectNode s = c.putObject("rope_scaling");
      s.put("rope_type", "llama3");
      s.put("factor", 8.0);
    }), "\"rope_scaling\"", "llama3", "unscaled rotary embeddings");
    refused(folder("gelu", c -> c.put("hidden_act", "gelu")), "\"hidden_act\"", "silu");
    refused(folder("bias", c -> c.put("attention_bias", true)), "\"attention_bias\"");
    refused(folder("kv3", c -> c.put("num_key_value_heads", 3)), "num_key_value_heads 3", "num_attention_heads 4");
    refused(folder("heads3", c -> {
      c.put("num_attention_heads", 3);
      c.put("num_key_value_heads", 3);
      c.remove("head_dim");
    }), "hidden_size " + SPEC.dModel(), "num_attention_heads 3");
  }

  @Test
  void trainFromABadFolderSavesNothing() throws IOException {
    Path bad = folder("train-missing", c -> { }, n -> !n.equals("model.norm.weight"), null, null);
    Path save = dir.resolve("saved");
    StringWriter sw = new StringWriter();
    int code = Main.execute(new PrintWriter(sw, true), "train", "--checkpoint", bad.toString(), "--steps", "1",
        "--batch", "1", "--no-mfu", "--threads", "1", "--eval-batches", "1", "--save",
        save.toString());
    assertThat(code).as(sw.toString()).isEqualTo(2);
    assertThat(sw.toString()).contains("model.norm.weight");
    assertThat(save).doesNotExist();
  }
}
