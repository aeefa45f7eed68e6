package dev.weft.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.weft.WeftInputException;
import dev.weft.kernels.Bf16GemmConformance.Kind;
import java.util.Set;
import org.junit.jupiter.api.Test;

class Bf16GemmSelectionTest {
  private static final OneDnn.Status AVX2 = new OneDnn.Status(true, "3.8.1", 0x7, "avx2", null);
  private static final OneDnn.Status AVX512 = new OneDnn.Status(true, "3.8.1", 0x27, "avx512_core", null);
  private static final OneDnn.Status BF16 = new OneDnn.Status(true, "3.8.1", 0xE7, "avx512_core_bf16", null);
  private static final OneDnn.Status AMX = new OneDnn.Status(true, "3.8.1", 0xFEF, "avx512_core_amx", null);

  @Test
  void nativePathNeedsTheLibraryAndBf16DotProductInstructions() {
    assertThat(AVX2.nativeBf16()).isFalse();
    assertThat(AVX512.nativeBf16()).as("avx512_core only emulates bf16").isFalse();
    assertThat(BF16.nativeBf16()).isTrue();
    assertThat(AMX.nativeBf16()).isTrue();
    assertThat(OneDnn.Status.unavailable("no library").nativeBf16()).isFalse();
    assertThat(Bf16Gemm.choose(AVX2, true)).isInstanceOf(JavaBf16Gemm.class);
    assertThat(Bf16Gemm.choose(AVX512, true)).isInstanceOf(JavaBf16Gemm.class);
    assertThat(Bf16Gemm.choose(OneDnn.Status.unavailable("x"), true)).isInstanceOf(JavaBf16Gemm.class);
  }

  @Test
  void disablingTheNativePathSelectsTheJavaOneAndItIsCorrect() {
    Bf16Gemm forced = Bf16Gemm.choose(BF16, false);
    assertThat(forced).isInstanceOf(JavaBf16Gemm.class);
    try (Compute cx = new Compute(2, new VectorGemm())) {
      for (int t = 0; t < 4; t++) {
        Bf16GemmConformance.check(forced, cx, (t & 1) != 0, (t & 2) != 0, 67, 45, 130, t % 2, Kind.FP32, Kind.BF16, t);
      }
    }
  }

  @Test
  void bestFollowsThisMachinesStatus() {
    Bf16Gemm best = Bf16Gemm.best();
    if (OneDnn.status().nativeBf16()) {
      assertThat(best).isInstanceOf(OneDnnBf16Gemm.class);
      assertThat(Bf16Gemm.describeBest()).contains("oneDNN").contains("native");
    } else {
      assertThat(best).isInstanceOf(JavaBf16Gemm.class);
      assertThat(Bf16Gemm.describeBest()).contains("pure Java");
    }
  }

  @Test
  void nativeChoiceOnABf16CpuIsOneDnn() {
    assumeTrue(OneDnn.available());
    assertThat(Bf16Gemm.choose(BF16, true)).isInstanceOf(OneDnnBf16Gemm.class);
  }

  @Test
  void descriptionsSayWhichPathAndWhy() {
    assertThat(Bf16Gemm.describe(BF16, new CpuFeatures(Set.of("avx512_bf16"))))
        .contains("oneDNN 3.8.1 native").contains("avx512_core_bf16");
    assertThat(Bf16Gemm.describe(AVX2, new CpuFeatures(Set.of("avx2"))))
        .contains("pure Java").contains("avx2").contains("no bf16 dot-product");
    assertThat(Bf16Gemm.describe(OneDnn.Status.unavailable("boom"), new CpuFeatures(Set.of("avx512_bf16"))))
        .contains("pure Java").contains("oneDNN unavailable").contains("bf16 dot products present");
  }

  @Test
  void cpuFlagsAreReadFromCpuinfo() {
    CpuFeatures f = CpuFeatures.parse("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n\nprocessor\t: 1\n");
    assertThat(f.bf16DotProduct()).isTrue();
    assertThat(f.has("avx2")).isTrue();
    assertThat(CpuFeatures.parse("flags : fpu avx2 fma\n").bf16DotProduct()).isFalse();
    assertThat(CpuFeatures.parse("flags : amx_bf16 amx_tile\n").bf16DotProduct()).isTrue();
    assertThat(CpuFeatures.parse("no flags here").flags()).isEmpty();
  }

  @Test
  void namesSelectImplementationsAndUnknownNamesSayTheChoices() {
    assertThat(Bf16Gemm.byName("java")).isInstanceOf(JavaBf16Gemm.class);
    assertThat(Bf16Gemm.byName("best").name()).isIn("java", "onednn");
    assertThatThrownBy(() -> Bf16Gemm.byName("mkl")).isInstanceOf(WeftInputException.class)
        .hasMessageContaining("mkl").hasMessageContaining("onednn").hasMessageContaining("java");
  }
}
