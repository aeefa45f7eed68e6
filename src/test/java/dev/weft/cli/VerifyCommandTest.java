package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.model.ParameterLayout;
import dev.weft.models.Families;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code weft verify}: passes on correct layouts of GPT-2 and Llama (a dp x tp x pp hybrid, ZeRO, context
 * parallelism, an interleaved pipeline), fails naming the tensor when one tensor's gradient reduction is wrong,
 * and refuses before running a layout that does not fit its devices.
 */
class VerifyCommandTest {
  @TempDir static Path dir;
  static Path data;

  /** A two-block GPT-2 small enough for eight ranks on two cores. */
  static final String[] GPT2 = {"--d-model", "32", "--heads", "4", "--context", "16", "--threads",
      "1", "--batch", "4", "--steps", "2", "--layers", "2"};

  record Outcome(int code, String out) {}

  @BeforeAll
  static void corpus() throws IOException {
    StringBuilder sb = new StringBuilder();
    SplittableRandom r = new SplittableRandom(11);
    for (int i = 0; i < 6000; i++) sb.append((char) ('a' + r.nextInt(16))).append(i % 9 == 0 ? "\n" : "");
    data = dir.resolve("data.txt");
    Files.writeString(data, sb);
  }

  /** Runs verify on a command object the test may have fitted with a faulty backend, capturing what it prints. */
  static Outcome verify(VerifyCommand cmd, String[] base, String... extra) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    cmd.out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    String[] args = java.util.stream.Stream.of(new String[] {"--data", data.toString()}, base, extra)
        .flatMap(java.util.Arrays::stream).toArray(String[]::new);
    int code = new CommandLine(cmd).execute(args);
    return new Outcome(code, bytes.toString(StandardCharsets.UTF_8));
  }

  static Outcome verify(String[] base, String... extra) {
    return verify(new VerifyCommand(), base, extra);
  }

  @Test
  void aHybridDataTensorPipelineLayoutEqualsOneDevice() {
    Outcome o = verify(GPT2, "--dp", "2", "--tp", "2", "--pp", "2");
    assertThat(o.code()).as(o.out()).isZero();
    assertThat(o.out()).contains("PASS: dp=2 tp=2 pp=2").contains("step 2: loss").contains("h.1.mlp.c_fc.weight");
  }

  @Test
  void zeroThreeContextParallelAndAnInterleavedPipelineEqualOneDevice() {
    for (String[] layout : new String[][] {{"--dp", "2", "--zero", "3"}, {"--cp", "2", "--cp-attention", "all-to-all"},
        {"--tp", "2", "--sp", "--pp", "2", "--schedule", "interleaved", "--virtual-stages", "2", "--layers", "4"}}) {
      String[] base = layout[layout.length - 1].equals("4") ? java.util.Arrays.copyOf(GPT2, GPT2.length - 2) : GPT2;
      Outcome o = verify(base, layout);
      assertThat(o.code()).as(String.join(" ", layout) + "\n" + o.out()).isZero();
    }
  }

  @Test
  void aLlamaLayoutEqualsOneDevice() {
    Outcome o = verify(new String[] {"--model", "llama-micro", "--layers", "2", "--d-model", "32", "--heads", "4",
        "--kv-heads", "2", "--ffn", "64", "--context", "16", "--threads", "1", "--batch", "4", "--steps", "2"},
        "--dp", "2", "--tp", "2");
    assertThat(o.code()).as(o.out()).isZero();
    assertThat(o.out()).contains("model.layers.1.mlp.gate_proj.weight");
  }

  @Test
  void aWrongReductionOfOneTensorFailsNamingIt() {
    ParameterLayout layout = new ParameterLayout(Families.preset("micro",
        new dev.weft.model.ModelShape(2, 32, 4, null, null, 16, null)));
    ParameterLayout.Param victim = layout.params().stream().filter(p -> p.name().equals("h.1.mlp.c_fc.weight"))
        .findFirst().orElseThrow();
    VerifyCommand cmd = new VerifyCommand();
    cmd.backends = b -> new WrongReduction(b, layout.total(), victim.offset(), victim.offset() + victim.size());
    Outcome o = verify(cmd, GPT2, "--dp", "2");
    assertThat(o.code()).as(o.out()).isEqualTo(1);
    assertThat(o.out()).contains("FAIL: dp=2").containsPattern("worst is the gradient of h\\.1\\.mlp\\.c_fc\\.weight at step \\d")
        .containsPattern("h\\.1\\.mlp\\.c_fc\\.weight +5\\.0e-01 \\(\\d\\) FAIL");
    // Everything else was reduced right, so only that tensor's gradient is off at step 1.
    assertThat(o.out().lines().filter(l -> l.matches("\\S+ +\\S+ \\(\\d\\) FAIL.*"))).hasSize(1);
  }

  @Test
  void aLayoutThatDoesNotFitIsRefusedBeforeRunning() {
    String[] args = CliTest.args("verify", GPT2, "--data", data.toString(), "--tp", "2", "--device-memory", "100KiB");
    StringWriter err = new StringWriter();
    assertThat(Main.execute(new PrintWriter(err, true), args)).as(err.toString()).isEqualTo(2);
    assertThat(err.toString()).contains("does not fit --device-memory 100.0 KiB").contains("nothing was run")
        .containsPattern("weights [0-9.]+ KiB").doesNotContain("Exception");
    // Refused before either run started: nothing of the comparison was printed.
    VerifyCommand cmd = CommandLine.populateCommand(new VerifyCommand(), java.util.Arrays.copyOfRange(args, 1, args.length));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    cmd.out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    assertThatThrownBy(cmd::call).isInstanceOf(dev.weft.WeftInputException.class);
    assertThat(bytes.toString(StandardCharsets.UTF_8)).isEmpty();
  }

  @Test
  void processesAreRefusedWithTheFix() {
    StringWriter err = new StringWriter();
    int code = Main.execute(new PrintWriter(err, true), CliTest.args("verify", GPT2, "--devices", "tcp"));
    assertThat(code).isEqualTo(2);
    assertThat(err.toString()).contains("drop --devices tcp");
  }
}
