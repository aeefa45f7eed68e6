package dev.weft.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.train.Trainer;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class FamilyBenchCommandTest {
  /**
   * Both families train in one run; each model's FLOPs per step are the trainer's formula, and the printed ratio is
   * the second model's model-FLOP rate over the first's, which for a shared peak is the MFU ratio.
   */
  @Test
  void trainsBothFamiliesInOneRunAndPrintsTheRatioOfTheirMfu() {
    List<String> names = List.of("nano", "llama-micro");
    List<ModelSpec> specs = names.stream().map(Families::preset).toList();
    List<FamilyBenchCommand.Figures> f = FamilyBenchCommand.measure(names, specs, 1, 2, 1, 1, "vector");
    assertThat(f).hasSize(2);
    for (int i = 0; i < 2; i++) {
      FamilyBenchCommand.Figures x = f.get(i);
      assertThat(x.timedSteps()).isEqualTo(1);
      assertThat(x.medianMs()).isPositive();
      assertThat(x.flopsPerStep()).isEqualTo(Trainer.flopsPerStep(specs.get(i), 1, specs.get(i).context()));
      assertThat(x.tokensPerSecond()).isCloseTo(specs.get(i).context() / (x.medianMs() / 1e3), within(1e-6));
    }
    MatmulPeak.Result peak = new MatmulPeak.Result("vector", 10.0);
    String report = FamilyBenchCommand.report(f, peak, 1, 2, 1, 1, "vector");
    Matcher m = Pattern.compile("MFU ([0-9.]+)%").matcher(report);
    double[] mfu = new double[2];
    for (int i = 0; i < 2; i++) {
      assertThat(m.find()).isTrue();
      mfu[i] = Double.parseDouble(m.group(1));
    }
    assertThat(mfu[0]).isCloseTo(100 * f.get(0).gflops() / 10.0, within(0.051));
    double ratio = f.get(1).gflops() / f.get(0).gflops();
    assertThat(report).contains(String.format(Locale.ROOT, "llama-micro / nano: tokens/s %.3f, MFU %.3f",
        f.get(1).tokensPerSecond() / f.get(0).tokensPerSecond(), ratio));
  }

  @Test
  void asksForTwoPresetsAndAtLeastTwoSteps() {
    FamilyBenchCommand one = new FamilyBenchCommand();
    new CommandLine(one).parseArgs("--models", "nano");
    assertThatThrownBy(one::call).isInstanceOf(WeftInputException.class).hasMessageContaining("two presets");
    FamilyBenchCommand steps = new FamilyBenchCommand();
    new CommandLine(steps).parseArgs("--steps", "1");
    assertThatThrownBy(steps::call).isInstanceOf(WeftInputException.class).hasMessageContaining("--steps");
    FamilyBenchCommand unknown = new FamilyBenchCommand();
    new CommandLine(unknown).parseArgs("--models", "nano,llama-giant");
    assertThatThrownBy(unknown::call).isInstanceOf(WeftInputException.class).hasMessageContaining("llama-mini");
  }
}
