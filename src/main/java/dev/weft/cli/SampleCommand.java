package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.data.Gpt2Tokenizer;
import dev.weft.kernels.Compute;
import dev.weft.kernels.Gemm;
import dev.weft.decoder.Decoder;
import dev.weft.model.ModelSpec;
import dev.weft.models.Families;
import dev.weft.models.gpt2.GPT2Config;
import dev.weft.decoder.Sampler;
import dev.weft.tensor.DeviceMemory;
import dev.weft.train.Checkpoint;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft sample}: generates text from a checkpoint, continuing a prompt. Tokens are GPT-2 BPE ids when
 * the folder has vocab.json and merges.txt (a Hugging Face GPT-2 folder), else bytes (vocabulary 256).
 */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Generate text from a checkpoint: GPT-2 BPE when the folder has vocab.json and merges.txt, else bytes (vocab 256).")
public final class SampleCommand implements Callable<Integer> {
  @Option(names = "--checkpoint", required = true, paramLabel = "DIR|FILE", description = "Model folder (e.g. saved by 'weft train --save').")
  Path checkpoint;

  @Option(names = "--prompt", defaultValue = "public class ", description = "Text to continue (default '${DEFAULT-VALUE}').")
  String prompt;

  @Option(names = "--tokens", defaultValue = "400", description = "Tokens to generate (default ${DEFAULT-VALUE}).")
  int tokens;

  @Option(names = "--temperature", defaultValue = "0.8", description = "Softmax temperature; 0 = greedy (default ${DEFAULT-VALUE}).")
  double temperature;

  @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens (0 = all).")
  int topK;

  @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--threads", description = "Compute threads (default: the machine's cores).")
  Integer threads;

  @Override
  public Integer call() {
    if (tokens < 0) throw new WeftInputException("--tokens must be >= 0, got " + tokens + ".");
    if (temperature < 0) throw new WeftInputException("--temperature must be >= 0, got " + temperature + ".");
    if (topK < 0) throw new WeftInputException("--top-k must be >= 0, got " + topK + ".");
    ModelSpec config = Checkpoint.readConfig(checkpoint);
    Gpt2Tokenizer tok = Gpt2Tokenizer.find(checkpoint);
    if (tok == null && config.vocab() != 256) {
      throw new WeftInputException("this model's vocabulary has " + config.vocab() + " tokens, and " + checkpoint
          + " has no " + Gpt2Tokenizer.VOCAB + " and " + Gpt2Tokenizer.MERGES + " to turn them into text (without "
          + "them Weft samples bytes, vocabulary 256, only). Copy vocab.json and merges.txt from the model's Hugging "
          + "Face repository (for GPT-2: openai-community/gpt2) into the checkpoint folder.");
    }
    if (tok != null && tok.vocabSize() > config.vocab()) {
      throw new WeftInputException("the tokenizer in " + checkpoint + " has ids up to " + (tok.vocabSize() - 1)
          + " but the model's vocabulary has " + config.vocab() + " tokens; vocab.json and merges.txt must belong "
          + "to these weights.");
    }
    byte[] p = prompt.getBytes(StandardCharsets.UTF_8);
    if (p.length == 0) throw new WeftInputException("--prompt must not be empty.");
    int th = threads != null ? threads : Runtime.getRuntime().availableProcessors();
    try (Compute cx = new Compute(th, Gemm.defaultGemm());
         Decoder model = Decoder.onOneDevice(config, cx, DeviceMemory.unlimited("device 0"))) {
      Checkpoint.loadWeights(checkpoint, model);
      int[] ids;
      if (tok != null) {
        ids = tok.encode(prompt);
      } else {
        ids = new int[p.length];
        for (int i = 0; i < p.length; i++) ids[i] = p[i] & 0xff;
      }
      PrintStream out = System.out;
      out.print(prompt);
      Sampler sampler = new Sampler(model, temperature, topK, seed);
      Gpt2Tokenizer.StreamDecoder text = tok == null ? null : tok.streamDecoder();
      sampler.generate(ids, tokens, id -> {
        if (text != null) {
          out.writeBytes(text.push(id).getBytes(StandardCharsets.UTF_8)); // whole UTF-8 characters only
        } else if (id < 256) {
          out.write(id);
        }
        out.flush();
      });
      if (text != null) out.writeBytes(text.flush().getBytes(StandardCharsets.UTF_8));
      out.println();
    }
    return 0;
  }
}
