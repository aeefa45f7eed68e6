package dev.weft.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.kernels.Bf16Gemm;
import dev.weft.kernels.Gemm;
import dev.weft.kernels.OneDnn;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class GemmBenchCommandTest {
  @Test
  void measuresPositiveThroughputForEachImplementationOnASmallShape() {
    GemmBenchCommand.Shape s = new GemmBenchCommand.Shape("small", true, false, 96, 80, 64, 1f);
    assertThat(s.flops()).isEqualTo(2.0 * 96 * 80 * 64);
    double[] gf = GemmBenchCommand.measureInterleaved(List.of(Gemm.byName("vector"), Gemm.byName("scalar")),
        2, s, 0.01, 3);
    assertThat(gf).hasSize(2);
    for (double g : gf) assertThat(g).isPositive().isFinite();
    assertThat(GemmBenchCommand.measureGflops(Gemm.byName("openblas"), 1, s, 0.01, 3)).isPositive();
  }

  @Test
  void parsesOptionsAndRejectsUnknownImplementations() {
    GemmBenchCommand cmd = new GemmBenchCommand();
    new CommandLine(cmd).parseArgs("--threads", "1", "--iterations", "2", "--impl", "vector,scalar");
    assertThat(cmd.threads).isEqualTo(1);
    assertThat(cmd.iterations).isEqualTo(2);
    assertThat(cmd.impls).containsExactly("vector", "scalar");
    GemmBenchCommand bad = new GemmBenchCommand();
    new CommandLine(bad).parseArgs("--impl", "mkl");
    assertThatThrownBy(bad::call).isInstanceOf(WeftInputException.class).hasMessageContaining("mkl");
  }

  @Test
  void measuresBf16AndFp32ImplementationsInTheSameRun() {
    GemmBenchCommand.Shape s = new GemmBenchCommand.Shape("small", false, true, 64, 48, 80, 0f);
    double[] gf = GemmBenchCommand.measureImpls(List.of(GemmBenchCommand.Impl.of(Gemm.byName("vector")),
        GemmBenchCommand.Impl.of(Bf16Gemm.byName("java"))), 2, s, 0.01, 3);
    assertThat(gf).hasSize(2);
    for (double g : gf) assertThat(g).isPositive().isFinite();
    assertThat(GemmBenchCommand.Impl.of(Bf16Gemm.byName("java")).label()).isEqualTo("bf16-java");
  }

  @Test
  void skipsNativeBf16WithAReasonWhereTheCpuLacksBf16AndRejectsUnknownShapeSets() {
    List<String> notes = new ArrayList<>();
    Bf16Gemm g = GemmBenchCommand.bf16ByName("onednn", notes);
    if (OneDnn.status().nativeBf16()) {
      assertThat(g).isNotNull();
    } else {
      assertThat(g).isNull();
      assertThat(notes).singleElement().asString().contains("skipped");
    }
    assertThat(GemmBenchCommand.shapes(List.of("gpt2", "c384"))).hasSize(9);
    assertThatThrownBy(() -> GemmBenchCommand.shapes(List.of("gpt3"))).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("gpt3").hasMessageContaining("c384");
  }
}
