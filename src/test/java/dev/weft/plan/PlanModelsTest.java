package dev.weft.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.WeftInputException;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class PlanModelsTest {
  /**
   * Every preset {@code weft train --model} accepts is a planner preset with the same parameters, layers, widths
   * and heads the family builds, and the planner finds a layout that fits it (on 8, 64 or 256 H100s).
   */
  @Test
  void everyTrainPresetIsPlannableWithTheFamilysOwnShape() {
    ClusterSpec h100 = ClusterSpec.preset("h100-80gb", 0);
    for (String name : Families.presetNames()) {
      ModelSpec spec = Families.preset(name);
      ModelDims m = PlanModels.preset(name);
      assertThat(PlanModels.names()).contains(name);
      assertThat(m.name()).isEqualTo(name);
      assertThat(m.parameterCount()).as(name).isEqualTo(spec.parameterCount());
      assertThat(new long[] {m.layers(), m.hidden(), m.heads(), m.kvHeads(), m.ffn(), m.vocab(), m.seq()}).as(name)
          .containsExactly(spec.layers(), spec.dModel(), spec.heads(), spec.kvHeads(), spec.ffn(), spec.vocab(),
              spec.context());
      assertThat(m.tiedEmbeddings()).as(name).isEqualTo(spec.tied());
      Job job = new Job(m, 64, Precision.BF16);
      Plan plan = null;
      for (int devices : new int[] {8, 64, 256}) {
        plan = Planner.plan(job, h100, devices);
        if (!plan.ranked().isEmpty()) break;
      }
      assertThat(plan.ranked()).as(name).isNotEmpty();
      assertThat(plan.best().mfu()).as(name).isBetween(0.0, 1.0);
    }
  }

  @Test
  void thePublishedShapesArePlannerPresetsTooAndUnknownNamesListEveryPreset() {
    assertThat(PlanModels.names()).containsAll(PlanModels.PUBLISHED);
    assertThat(PlanModels.preset("175b").parameterCount() / 1e9).isBetween(174.0, 176.0);
    assertThatThrownBy(() -> PlanModels.preset("llama-nano"))
        .isInstanceOf(WeftInputException.class).hasMessageContaining("llama-mini").hasMessageContaining("1t")
        .hasMessageContaining("nano");
  }

  @Test
  void theCommandLinePlansTheLlamaTrainingPresets() {
    for (String name : new String[] {"llama-micro", "llama-mini"}) {
      PrintStream old = System.out;
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      System.setOut(new PrintStream(buf, true));
      int code;
      try {
        code = new CommandLine(new dev.weft.cli.PlanCommand()).execute("--model", name, "--global-batch", "8",
            "--devices", "2", "--device", "a100-80gb", "--top", "1");
      } finally {
        System.setOut(old);
      }
      assertThat(code).as(name).isZero();
      assertThat(buf.toString()).startsWith(name + " (");
    }
  }
}
