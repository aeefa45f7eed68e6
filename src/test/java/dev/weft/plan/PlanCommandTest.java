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
