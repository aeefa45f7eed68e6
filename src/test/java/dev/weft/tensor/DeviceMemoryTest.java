package dev.weft.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DeviceMemoryTest {
  @Test
  void countsInUseAndPeakAndRefusesToGoOverCapacity() {
    DeviceMemory m = new DeviceMemory("device 3", 1000);
    Tensor a = Tensor.zeros(m, "a", 100);
    Tensor b = Tensor.zeros(m, "b", 100);
    assertThat(m.inUse()).isEqualTo(800);
    a.close();
    a.close(); // closing twice releases once
    assertThat(m.inUse()).isEqualTo(400);
    assertThat(m.peak()).isEqualTo(800);
    assertThatThrownBy(() -> Tensor.zeros(m, "activations", 200))
        .isInstanceOf(OutOfDeviceMemoryError.class)
        .hasMessageContaining("device 3").hasMessageContaining("800 B for activations")
        .hasMessageContaining("400 B of 1000 B is in use");
    assertThat(m.inUse()).isEqualTo(400);
    b.close();
    assertThat(m.inUse()).isZero();
  }

  @Test
  void pooledBuffersAreChargedOnEveryTake() {
    DeviceMemory m = new DeviceMemory("d", 1 << 20);
    BufferPool pool = new BufferPool(m);
    Tensor t = pool.take("x", 1000, true);
    float[] array = t.data();
    array[5] = 7f;
    pool.give(t);
    assertThat(m.inUse()).isZero();
    Tensor again = pool.take("x", 1000, true);
    assertThat(again.data()).isSameAs(array);
    assertThat(again.data()[5]).isZero();
    assertThat(m.inUse()).isEqualTo(4000);
  }

  @Test
  void parsesSizesWithUnits() {
    assertThat(DeviceMemory.parseSize("512MiB")).isEqualTo(512L << 20);
    assertThat(DeviceMemory.parseSize("1.5g")).isEqualTo(3L << 29);
    assertThat(DeviceMemory.parseSize("4096")).isEqualTo(4096);
    assertThatThrownBy(() -> DeviceMemory.parseSize("12 parsecs")).isInstanceOf(NumberFormatException.class);
    assertThat(DeviceMemory.format(1536)).isEqualTo("1.50 KiB");
  }

  @Test
  void peakIsKeptByCategoryAtTheMomentOfThePeak() {
    DeviceMemory m = DeviceMemory.unlimited("d");
    Tensor w = Tensor.zeros(m, "param.all", 100);
    Tensor g = Tensor.zeros(m, "grad.all", 100);
    Tensor a = Tensor.zeros(m, "adam.m", 200);
    Tensor act = Tensor.zeros(m, "h0.qkv", 300);
    Tensor pp = Tensor.zeros(m, "pp activation 0->1 mb 0", 50);
    act.close();
    pp.close();
    Tensor later = Tensor.zeros(m, "h0.mlp", 100); // below the peak: the breakdown stays the peak's
    assertThat(m.peak()).isEqualTo(4 * (100 + 100 + 200 + 300 + 50));
    assertThat(m.peakByCategory()).containsExactly(java.util.Map.entry("weights", 400L),
        java.util.Map.entry("gradients", 400L), java.util.Map.entry("optimizer", 800L),
        java.util.Map.entry("activations", 1200L), java.util.Map.entry("comm_buffers", 200L));
    later.close();
    w.close();
    g.close();
    a.close();
    assertThat(m.inUse()).isZero();
    assertThat(DeviceMemory.Category.of("comm.reduce-scatter")).isEqualTo(DeviceMemory.Category.COMM_BUFFERS);
  }
}
