package dev.weft.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.io.SafeTensorsFile;
import dev.weft.io.SafeTensorsWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's outside contract: exit codes and messages for bad input, and the happy paths. */
class CliTest {
  @TempDir static Path dir;
  static Path data;
  static Path checkpoint;

  record Run(int code, String err) {}

  static Run run(String... args) {
    StringWriter sw = new StringWriter();
    int code = Main.execute(new PrintWriter(sw, true), args);
    return new Run(code, sw.toString());
  }

  static final String[] TINY = {"--layers", "1", "--d-model", "16", "--heads", "2", "--context", "16", "--no-mfu",
      "--threads", "1", "--eval-batches", "1"};

  static String[] train(String... extra) {
    return args("train", TINY, extra);
  }

  /** {@code command}, then {@code base}, then {@code extra}: one argument list. */
  static String[] args(String command, String[] base, String... extra) {
    String[] a = new String[1 + base.length + extra.length];
    a[0] = command;
    System.arraycopy(base, 0, a, 1, base.length);
    System.arraycopy(extra, 0, a, 1 + base.length, extra.length);
    return a;
  }

  @BeforeAll
  static void trainOnce() throws IOException {
    data = dir.resolve("data.txt");
    Files.writeString(data, "class A { int x = 1; }\n".repeat(300));
    checkpoint = dir.resolve("ck");
    Run r = run(train("--data", data.toString(), "--steps", "3", "--batch", "2", "--save", checkpoint.toString()));
    assertThat(r.code()).as(r.err()).isZero();
  }

  @Test
  void trainingSavesAHuggingFaceStyleModelFolder() {
    assertThat(checkpoint.resolve("config.json")).exists();
    assertThat(checkpoint.resolve("model.safetensors")).exists();
    assertThat(checkpoint.resolve("optimizer.safetensors")).exists();
    assertThat(checkpoint.resolve("training_state.json")).exists();
  }

  @Test
  void gradsWritesLossAndEveryGradient() {
    Path tokens = dir.resolve("tokens.safetensors");
    int[] ids = new int[2 * 9];
    for (int i = 0; i < ids.length; i++) ids[i] = (i * 37) % 256;
    new SafeTensorsWriter().addInts("tokens", ids, 2, 9).write(tokens);
    Path out = dir.resolve("grads.safetensors");
    Run r = run("grads", "--checkpoint", checkpoint.toString(), "--tokens", tokens.toString(), "--out", out.toString(),
        "--threads", "1");
    assertThat(r.code()).as(r.err()).isZero();
    try (SafeTensorsFile f = SafeTensorsFile.open(out)) {
      assertThat(f.has("loss")).isTrue();
      assertThat(f.floats("loss")[0]).isGreaterThan(0f);
      assertThat(f.shape("h.0.attn.c_attn.weight")).containsExactly(16, 48);
      assertThat(f.shape("wte.weight")).containsExactly(256, 16);
    }
  }

  @Test
  void sampleGeneratesText() {
    Run r = run("sample", "--checkpoint", checkpoint.toString(), "--tokens", "20", "--threads", "1");
    assertThat(r.code()).as(r.err()).isZero();
  }

  @Test
  void headsThatDoNotDivideTheWidthAreRejected() {
    Run r = run("train", "--d-model", "64", "--heads", "5", "--no-mfu");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("not divisible by --heads 5");
  }

  @Test
  void negativeStepsAreRejected() {
    Run r = run(train("--steps", "-1"));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--steps must be positive");
  }

  @Test
  void aBatchThatDoesNotDivideIntoMicroBatchesIsRejected() {
    Run r = run(train("--batch", "6", "--micro-batch", "4"));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("do not divide into micro-batches");
  }

  @Test
  void recomputationIsFullOrNoneAndSelectiveSaysWhyNot() {
    Run ok = run(train("--data", data.toString(), "--steps", "2", "--batch", "2", "--recompute", "full"));
    assertThat(ok.code()).as(ok.err()).isZero();
    Run selective = run(train("--recompute", "selective"));
    assertThat(selective.code()).isEqualTo(2);
    assertThat(selective.err()).contains("blockwise").contains("--recompute full");
    Run typo = run(train("--recompute", "ful"));
    assertThat(typo.code()).isEqualTo(2);
    assertThat(typo.err()).contains("--recompute takes none or full, got 'ful'");
  }

  @Test
  void aMissingDataPathIsRejected() {
    Run r = run(train("--data", dir.resolve("nope.txt").toString()));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("nope.txt");
  }

  @Test
  void tooLittleDeviceMemoryNamesTheDeviceAndTheCapacity() {
    Run r = run(train("--data", data.toString(), "--steps", "1", "--batch", "2", "--device-memory", "64KiB"));
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("out of device memory on device 0").contains("64.00 KiB");
  }

  @Test
  void aTruncatedCheckpointIsRejectedAndNothingIsWritten() throws IOException {
    Path broken = dir.resolve("broken");
    Files.createDirectories(broken);
    Files.copy(checkpoint.resolve("config.json"), broken.resolve("config.json"));
    byte[] weights = Files.readAllBytes(checkpoint.resolve("model.safetensors"));
    Files.write(broken.resolve("model.safetensors"), java.util.Arrays.copyOf(weights, weights.length / 2));
    Path out = dir.resolve("never.safetensors");
    Path tokens = dir.resolve("t2.safetensors");
    new SafeTensorsWriter().addInts("tokens", new int[] {1, 2, 3, 4}, 1, 4).write(tokens);
    Run r = run("grads", "--checkpoint", broken.toString(), "--tokens", tokens.toString(), "--out", out.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("model.safetensors");
    assertThat(out).doesNotExist();
  }

  @Test
  void aCheckpointOfAnotherShapeIsRejected() {
    Run r = run("train", "--checkpoint", checkpoint.toString(), "--d-model", "32", "--heads", "2", "--no-mfu");
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("--d-model 32 does not match the checkpoint");
  }

  @Test
  void layoutAutoAsksThePlannerAndTrains() {
    Run r = run(train("--data", data.toString(), "--steps", "2", "--batch", "4", "--layout", "auto", "--num-devices", "2"));
    assertThat(r.code()).as(r.err()).isZero();
    Run clash = run(train("--data", data.toString(), "--steps", "2", "--layout", "auto", "--dp", "2"));
    assertThat(clash.code()).isEqualTo(2);
    assertThat(clash.err()).contains("--layout auto chooses");
  }

  @Test
  void unknownOptionsAreBadInput() {
    Run r = run("train", "--no-such-option");
    assertThat(r.code()).isEqualTo(2);
  }
}
