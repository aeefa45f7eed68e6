package dev.weft.models;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.models.gpt2.Gpt2Family;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFolderTest {
  @TempDir Path dir;

  /** config.json of the Hugging Face "gpt2" model, as downloaded (n_ctx and many extra fields). */
  private static final String HF_GPT2 = """
      {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": 50256,
        "embd_pdrop": 0.1,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": 1024,
        "n_embd": 768,
        "n_head": 12,
        "n_layer": 12,
        "n_positions": 1024,
        "resid_pdrop": 0.1,
        "summary_activation": null,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": true,
        "summary_type": "cls_index",
        "summary_use_proj": true,
        "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
        "vocab_size": 50257
      }
      """;

  @Test
  void aHuggingFaceGpt2ConfigIsRead() throws IOException {
    Files.writeString(dir.resolve("config.json"), HF_GPT2);
    assertThat(ModelFolder.readConfig(dir)).isEqualTo(Families.preset("small"));
  }

  @Test
  void nCtxStandsInForAMissingNPositions() throws IOException {
    Files.writeString(dir.resolve("config.json"),
        "{\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4, \"n_ctx\": 128, \"vocab_size\": 256, \"extra\": [1]}");
    assertThat(ModelFolder.readConfig(dir)).isEqualTo(new GPT2Config(2, 64, 4, 128, 256).spec());
  }

  @Test
  void writtenConfigRoundTripsAndHasTheFieldsTransformersNeeds() throws IOException {
    ModelSpec c = Families.preset("micro");
    Path out = dir.resolve("ckpt");
    ModelFolder.writeConfig(out, c);
    assertThat(ModelFolder.readConfig(out)).isEqualTo(c);
    JsonNode j = new ObjectMapper().readTree(out.resolve("config.json").toFile());
    assertThat(j.get("model_type").asText()).isEqualTo("gpt2");
    assertThat(j.get("architectures").get(0).asText()).isEqualTo("GPT2LMHeadModel");
    assertThat(j.get("activation_function").asText()).isEqualTo("gelu_new");
    assertThat(j.get("layer_norm_epsilon").asDouble()).isEqualTo(1e-5);
    assertThat(j.get("tie_word_embeddings").asBoolean()).isTrue();
    assertThat(j.get("n_ctx").asInt()).isEqualTo(c.context());
    assertThat(j.get("n_positions").asInt()).isEqualTo(c.context());
    assertThat(j.get("bos_token_id").asInt()).isLessThan(c.vocab());
    try (var s = Files.list(out)) {
      assertThat(s.map(p -> p.getFileName().toString())).containsExactly("config.json");
    }
  }

  @Test
  void badConfigsAreRejectedNamingTheFieldOrProblem() throws IOException {
    Path f = dir.resolve("config.json");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("has no config.json");
    Files.writeString(f, "{\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4, \"n_positions\": 64}");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("\"vocab_size\"");
    Files.writeString(f, "{\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4, \"vocab_size\": 256}");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("n_positions (or n_ctx)");
    Files.writeString(f, "{\"n_layer\": \"two\", \"n_embd\": 64, \"n_head\": 4, \"n_ctx\": 8, \"vocab_size\": 256}");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("\"n_layer\": \"two\"");
    Files.writeString(f, "{\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 5, \"n_ctx\": 8, \"vocab_size\": 256}");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("not divisible by n_head 5");
    Files.writeString(f, "{\"n_layer\": 2,");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("not valid JSON");
    Files.writeString(f, "{\"model_type\": \"mistral\"}");
    assertThatThrownBy(() -> ModelFolder.readConfig(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("'mistral'");
  }

  @Test
  void resolveWeightsFindsTheFileOrExplainsWhatIsMissing() throws IOException {
    assertThatThrownBy(() -> ModelFolder.resolveWeights(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("has no model.safetensors");
    Files.writeString(dir.resolve("pytorch_model.bin"), "x");
    assertThatThrownBy(() -> ModelFolder.resolveWeights(dir)).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("safe_serialization=True");
    Path w = dir.resolve("model.safetensors");
    Files.writeString(w, "x");
    assertThat(ModelFolder.resolveWeights(dir)).isEqualTo(w);
    assertThat(ModelFolder.resolveWeights(w)).isEqualTo(w);
    assertThatThrownBy(() -> ModelFolder.resolveWeights(dir.resolve("pytorch_model.bin")))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("neither");
    assertThatThrownBy(() -> ModelFolder.resolveWeights(dir.resolve("gone")))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("does not exist");
  }

  static final ModelSpec SMALL = Families.preset("small");

  @Test
  void canonicalNamesStripThePrefixAndSkipTiedHeadAndMaskBuffers() {
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "transformer.wte.weight")).isEqualTo("wte.weight");
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "h.3.attn.c_attn.bias")).isEqualTo("h.3.attn.c_attn.bias");
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "transformer.h.11.mlp.c_proj.weight")).isEqualTo("h.11.mlp.c_proj.weight");
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "lm_head.weight")).isNull();
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "transformer.h.0.attn.bias")).isNull();
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "h.10.attn.masked_bias")).isNull();
    assertThat(Gpt2Family.INSTANCE.canonicalName(SMALL, "ln_f.bias")).isEqualTo("ln_f.bias");
  }
}
