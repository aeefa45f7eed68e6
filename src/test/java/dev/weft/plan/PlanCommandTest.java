package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.cli.PlanCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code weft plan} as scripts and users meet it: JSON for feasible and infeasible answers, exit codes, and the
 * vocabulary it shares with {@code weft train} (option names and values, defaults a preset implies, only layouts
 * train runs, the train command of its choice).
 */
class PlanCommandTest {
  @Test
  void jsonListsCandidatesWithLayoutMemoryAndThroughput() throws Exception {
    String out = run("--model", "gpt2-xl", "--global-batch", "64", "--devices", "8", "--device", "a100-80gb",
        "--precision", "bf16", "--top", "3", "--json");
    JsonNode list = new ObjectMapper().readTree(out);
    assertThat(list.isArray()).isTrue();
    JsonNode first = list.get(0);
    for (String f : new String[] {"dp", "tp", "pp", "cp", "zero", "sp", "micro_batch", "schedule", "virtual_stages",
        "recompute", "memory_bytes", "feasible", "step_time_s", "tokens_per_s", "tflops_per_device", "mfu"}) {
      assertThat(first.has(f)).as(f).isTrue();
    }
    assertThat(first.get("memory_bytes").has("total")).isTrue();
    assertThat(first.get("dp").asInt() * first.get("tp").asInt() * first.get("pp").asInt() * first.get("cp").asInt())
        .isEqualTo(8);
  }

  @Test
  void aFixedLayoutThatDoesNotFitAnswersInJsonWithItsBreakdown() throws Exception {
    // GPT-2 XL (1.6B parameters) on one 80 GB device: 16 bytes a parameter plus activations, at a fixed layout.
    String out = run("--model", "gpt2-xl", "--global-batch", "512", "--devices", "1", "--device", "a100-80gb",
        "--precision", "fp32", "--micro-batch", "64", "--recompute", "none", "--json");
    JsonNode o = new ObjectMapper().readTree(out);
    assertThat(o.isObject()).as(out).isTrue();
    assertThat(o.get("feasible").asBoolean(true)).isFalse();
    assertThat(o.get("reason").asText()).contains("no layout of 1 devices fits").contains("What would help");
    JsonNode mem = o.get("memory");
    long sum = 0;
    for (String f : new String[] {"weights", "gradients", "optimizer", "activations", "embedding_logits",
        "backward_scratch", "comm_buffers"}) {
      sum += mem.get(f).asLong();
    }
    assertThat(mem.get("total").asLong()).isEqualTo(sum).isGreaterThan(o.get("usable_memory_bytes").asLong());
    // fp32 model states: 16 bytes per parameter of GPT-2 XL's 1.56e9.
    assertThat(mem.get("weights").asLong() + mem.get("gradients").asLong() + mem.get("optimizer").asLong())
        .isBetween(16L * 1_500_000_000L, 16L * 1_650_000_000L);
    assertThat(o.get("time").get("compute").asDouble()).isPositive();
    assertThat(o.get("step_time_s").asDouble()).isGreaterThanOrEqualTo(o.get("time").get("compute").asDouble());
    assertThat(o.get("layout").get("micro_batch").asInt()).isEqualTo(64);
    assertThat(o.get("candidates").get(0).get("feasible").asBoolean(true)).isFalse();
  }

  @Test
  void withoutJsonALayoutThatDoesNotFitIsAnErrorWithExitCode2() {
    CommandLine cl = new CommandLine(new PlanCommand());
    cl.setExecutionExceptionHandler((ex, cmd, pr) -> ex instanceof dev.weft.WeftInputException ? 2 : 1);
    assertThat(cl.execute("--model", "gpt2-xl", "--global-batch", "512", "--devices", "1", "--device", "a100-80gb",
        "--precision", "fp32", "--micro-batch", "64", "--recompute", "none")).isEqualTo(2);
  }

  @Test
  void aPresetImpliesTheBatchAndLocalDevicesTrainsPrecisionAndThePrintedTrainLineRuns(@TempDir Path dir)
      throws Exception {
    String out = run("--model", "micro", "--num-devices", "2", "--device", "local", "--top", "1");
    assertThat(out).contains("global batch 16 x 128 tokens, fp32, on 2 x local");
    String line = out.lines().filter(l -> l.strip().startsWith("weft train ")).findFirst().orElseThrow().strip();
    assertThat(line).startsWith("weft train --model micro --batch 16 ");
    // The line runs as it is (shortened to one step on a small text).
    Path data = dir.resolve("data.txt");
    Files.writeString(data, "int f(int x) { return x + 1; }\n".repeat(400));
    List<String> args = new ArrayList<>(List.of(line.substring("weft ".length()).split(" ")));
    args.addAll(List.of("--steps", "1", "--no-mfu", "--context", "32", "--eval-batches", "0", "--data", data.toString()));
    StringWriter err = new StringWriter();
    PrintStream old = System.out;
    System.setOut(new PrintStream(new ByteArrayOutputStream(), true));
    try {
      assertThat(dev.weft.cli.Main.execute(new PrintWriter(err, true), args.toArray(String[]::new))).as(err.toString())
          .isZero();
    } finally {
      System.setOut(old);
    }
    assertThat(run("--model", "gpt2-xl", "--num-devices", "8", "--device", "a100-80gb", "--top", "1"))
        .contains("bf16");
  }

  @Test
  void theOlderSpellingsPlanTheSameAsTrainsNames() throws Exception {
    String older = run("--model", "micro", "--devices", "4", "--device", "local", "--pp", "2", "--cp", "2",
        "--schedule", "zb-h1", "--cp-algorithm", "all-to-all", "--global-batch", "8", "--json");
    String trains = run("--model", "micro", "--num-devices", "4", "--device", "local", "--pp", "2", "--cp", "2",
        "--schedule", "zb", "--cp-attention", "alltoall", "--batch", "8", "--json");
    assertThat(trains).isEqualTo(older);
    JsonNode first = new ObjectMapper().readTree(trains).get(0);
    assertThat(first.get("schedule").asText()).isEqualTo("zb");
    assertThat(first.get("cp_algorithm").asText()).isEqualTo("alltoall");
  }

  @Test
  void neverProposesWhatTrainRefusesUnlessFixed() throws Exception {
    String[] base = {"--model", "gpt2-xl", "--num-devices", "8", "--device", "a100-80gb", "--global-batch", "64",
        "--top", "200", "--json"};
    JsonNode all = new ObjectMapper().readTree(run(base));
    assertThat(all.size()).isGreaterThan(20);
    for (JsonNode c : all) {
      assertThat(c.get("recompute").asText()).isNotEqualTo("selective");
      if (c.get("cp").asInt() > 1) assertThat(c.get("cp_algorithm").asText()).isNotEqualTo("allgather");
    }
    String fixed = run("--model", "gpt2-xl", "--num-devices", "8", "--device", "a100-80gb", "--global-batch", "64",
        "--recompute", "selective", "--top", "1");
    assertThat(fixed).contains("recompute=selective").contains("weft train cannot run these layouts: --recompute selective")
        .doesNotContain("run the best layout with");
  }

  @Test
  void noModelIsBadInputWithExitCode2() {
    CommandLine cl = new CommandLine(new PlanCommand());
    cl.setExecutionExceptionHandler((ex, cmd, pr) -> ex instanceof dev.weft.WeftInputException ? 2 : 1);
    assertThat(cl.execute("--devices", "8", "--device", "a100-80gb")).isEqualTo(2);
  }

  private static String run(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true));
    try {
      assertThat(new CommandLine(new PlanCommand()).execute(args)).isZero();
    } finally {
      System.setOut(old);
    }
    return buf.toString();
  }
}
