package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.weft.cli.PlanCommand;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

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
