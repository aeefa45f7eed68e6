package dev.weft.train;

import dev.weft.parallel.Parallelism;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.model.ParameterLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPT-2's numbers are bit for bit those of the code before the model-as-specification redesign: for each
 * layout, the loss of every one of 10 training steps (exact float bits) and a SHA-256 of the final
 * parameters' bits, and for a few layouts the SHA-256 of one forward and backward's gathered gradients.
 * The expected values in {@code golden/gpt2.json} were written by this test (run with
 * {@code -Dweft.golden.write=true}) on the commit before the redesign (4ac32f1).
 */
class GoldenGpt2Test {
  static final ModelSpec MODEL = new GPT2Config(4, 32, 4, 16, 250).spec();
  static final Path GOLDEN = Path.of("src/test/resources/golden/gpt2.json");
  static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  static Map<String, Parallelism> trainLayouts() {
    Map<String, Parallelism> m = new LinkedHashMap<>();
    m.put("single", Parallelism.SINGLE);
    m.put("dp2-zero0", Parallelism.builder().dp(2).build());
    m.put("dp2-zero1", Parallelism.builder().dp(2).zero(1).build());
    m.put("dp2-zero2", Parallelism.builder().dp(2).zero(2).build());
    m.put("dp2-zero3", Parallelism.builder().dp(2).zero(3).build());
    m.put("tp2", Parallelism.builder().tp(2).build());
    m.put("tp2-sp", Parallelism.builder().tp(2).sp(true).build());
    m.put("tp4-sp", Parallelism.builder().tp(4).sp(true).build());
    for (String s : new String[] {"naive", "gpipe", "1f1b", "zb"}) {
      m.put("pp2-" + s, Parallelism.builder().pp(2).schedule(s).build());
    }
    m.put("pp2-interleaved-v2", Parallelism.builder().pp(2).schedule("interleaved").virtualStages(2).build());
    m.put("cp2-ring", Parallelism.builder().cp(2).build());
    m.put("cp2-alltoall", Parallelism.builder().cp(2).cpMethod("alltoall").build());
    m.put("recompute", Parallelism.SINGLE.withRecompute(true));
    m.put("tp2-sp-recompute", Parallelism.builder().tp(2).sp(true).build().withRecompute(true));
    m.put("dp2-tp2-sp-zero1", Parallelism.builder().dp(2).tp(2).sp(true).zero(1).build());
    m.put("pp2-cp2", Parallelism.builder().pp(2).cp(2).build());
    m.put("dp2-pp2-zero3", Parallelism.builder().dp(2).pp(2).zero(3).build());
    return m;
  }

  static Map<String, Parallelism> gradLayouts() {
    Map<String, Parallelism> m = new LinkedHashMap<>();
    m.put("single", Parallelism.SINGLE);
    m.put("tp2-sp", Parallelism.builder().tp(2).sp(true).build());
    m.put("cp2-ring", Parallelism.builder().cp(2).build());
    m.put("cp2-alltoall", Parallelism.builder().cp(2).cpMethod("alltoall").build());
    m.put("dp2-zero3", Parallelism.builder().dp(2).zero(3).build());
    return m;
  }

  static TrainConfig config(Path data, Parallelism p, int microBatch) {
    return TrainConfig.builder(MODEL).steps(10).batch(8).microBatch(microBatch).lr(3e-3).warmup(3).seed(5).evalEvery(0).evalBatches(0).threads(1).data(data).parallel(p).build();
  }

  static int microBatch(Parallelism p) {
    return p.pp() > 1 ? 2 : 8 / p.dp() / 2;
  }

  @Test
  void gpt2TrainsAndDifferentiatesBitForBitAsBeforeTheRedesign() throws IOException {
    Path data = TestCorpus.letters(dir);
    ObjectNode got = JSON.createObjectNode();
    ObjectNode train = got.putObject("train");
    for (var e : trainLayouts().entrySet()) {
      Trainer.Result r = new Trainer(config(data, e.getValue(), microBatch(e.getValue())), ParityRun.QUIET).run();
      ObjectNode o = train.putObject(e.getKey());
      var losses = o.putArray("loss_bits");
      for (StepMetrics s : r.steps()) losses.add(Integer.toHexString(Float.floatToRawIntBits((float) s.loss())));
      o.put("params_sha256", sha(r.finalParams()));
    }
    ObjectNode grads = got.putObject("grads");
    ParameterLayout layout = new ParameterLayout(MODEL);
    float[] w = TestCorpus.perturbedWeights(layout);
    int[] tokens = TestCorpus.randomTokens(4, MODEL.context(), MODEL.vocab());
    for (var e : gradLayouts().entrySet()) {
      Gradients.Result g = Gradients.compute(layout, w, tokens, 4, MODEL.context(), e.getValue(), 1, "vector");
      ObjectNode o = grads.putObject(e.getKey());
      o.put("loss_bits", Integer.toHexString(Float.floatToRawIntBits(g.loss())));
      o.put("grads_sha256", sha(g.grads()));
    }
    if (Boolean.getBoolean("weft.golden.write")) {
      Files.createDirectories(GOLDEN.getParent());
      Files.writeString(GOLDEN, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(got) + "\n");
      return;
    }
    JsonNode want = JSON.readTree(GOLDEN.toFile());
    for (String section : new String[] {"train", "grads"}) {
      for (var it = want.get(section).fieldNames(); it.hasNext(); ) {
        String name = it.next();
        assertThat(got.get(section).get(name)).as(section + " " + name).isEqualTo(want.get(section).get(name));
      }
    }
  }

  static String sha(float[] a) {
    ByteBuffer b = ByteBuffer.allocate(a.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : a) b.putInt(Float.floatToRawIntBits(x));
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
