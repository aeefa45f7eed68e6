package dev.weft.kernels;

class JavaBf16GemmTest extends Bf16GemmContract {
  @Override
  Bf16Gemm gemm() {
    return new JavaBf16Gemm();
  }
}
