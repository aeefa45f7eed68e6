package dev.weft.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;

/**
 * The CPU's instruction-set flags as Linux reports them ({@code /proc/cpuinfo}), for questions asked
 * without loading a native library: does the CPU have bf16 dot products ({@code avx512_bf16}, or AMX's
 * {@code amx_bf16}), how wide are its vectors. Empty where the file does not exist (not Linux).
 */
public record CpuFeatures(Set<String> flags) {
  private static final Path CPUINFO = Path.of("/proc/cpuinfo");

  /** The flags of this machine's first CPU (read once per call; the file is small). */
  public static CpuFeatures current() {
    try {
      return parse(Files.readString(CPUINFO));
    } catch (IOException | RuntimeException e) {
      return new CpuFeatures(Set.of());
    }
  }

  /** The flags in a {@code /proc/cpuinfo} text: the first "flags" line, split on spaces. */
  public static CpuFeatures parse(String cpuinfo) {
    for (String line : cpuinfo.split("\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equals("flags")) {
        return new CpuFeatures(new TreeSet<>(Arrays.asList(line.substring(colon + 1).trim().split("\\s+"))));
      }
    }
    return new CpuFeatures(Set.of());
  }

  /** True when the CPU has bf16 dot-product instructions: AVX512_BF16 (VDPBF16PS) or AMX-BF16. */
  public boolean bf16DotProduct() {
    return flags.contains("avx512_bf16") || flags.contains("amx_bf16");
  }

  public boolean has(String flag) {
    return flags.contains(flag);
  }
}
