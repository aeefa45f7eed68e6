package dev.weft.cli;

import dev.weft.WeftInputException;
import dev.weft.data.Corpus;
import dev.weft.data.DataCheck;
import dev.weft.data.Gpt2Tokenizer;
import dev.weft.data.TokenFile;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code weft prepare}: tokenizes a text corpus once into a memory-mapped token file ({@link TokenFile}) that
 * {@code weft train --data FILE} reads in place, with the same training and held-out tokens as training on
 * the text itself; prints how fast it went.
 */
@Command(name = "prepare", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Tokenize a text corpus once into a token file that 'weft train --data FILE' reads in place "
        + "(memory-mapped): bytes, or GPT-2 BPE with --tokenizer.")
public final class PrepareCommand implements Callable<Integer> {
  @Option(names = "--data", paramLabel = "PATH", description = "Text: a file, a folder or a zip (default: the JDK's lib/src.zip).")
  Path data;

  @Option(names = "--tokenizer", paramLabel = "DIR", description = "A folder with GPT-2's vocab.json and merges.txt (e.g. a Hugging Face GPT-2 folder); default: bytes are the tokens (vocabulary 256).")
  Path tokenizer;

  @Option(names = "--out", required = true, paramLabel = "FILE.tokens", description = "The token file to write.")
  Path out;

  @Override
  public Integer call() {
    PrintStream log = System.out;
    if (data != null && TokenFile.isTokenFile(data)) {
      throw new WeftInputException("--data " + data + " is a token file already; give the text it was prepared from, "
          + "or train on it directly with 'weft train --data " + data + "'.");
    }
    Gpt2Tokenizer tok = tokenizer == null ? null : loadTokenizer(tokenizer);
    if (Files.isDirectory(out)) {
      throw new WeftInputException("--out " + out + " is a folder; give the name of the token file to write, e.g. "
          + out.resolve("data.tokens") + ".");
    }
    long t0 = System.nanoTime();
    Corpus text = Corpus.load(data, log);
    long textBytes = text.size();
    Corpus corpus = tok == null ? text : text.tokenize(tok);
    DataCheck.warning(data == null ? "the default corpus" : "--data " + data, corpus, 0).ifPresent(log::println);
    long fileBytes = TokenFile.write(out, corpus, text.description());
    double secs = Math.max(1e-9, (System.nanoTime() - t0) / 1e9);
    log.printf(Locale.ROOT, "prepared %,d tokens (%,d for training, %,d held out) of %s from %.2f MB of text in %.2f s:"
            + " %.1f MB/s, %,.0f tokens/s%n", corpus.size(), corpus.trainSize(), corpus.valSize(), corpus.tokenizer(),
        textBytes / 1e6, secs, textBytes / 1e6 / secs, corpus.size() / secs);
    log.printf(Locale.ROOT, "wrote %s (%.2f MB, %s tokens); train on it with 'weft train --data %s'%n", out,
        fileBytes / 1e6, corpus.vocabSize() <= 65536 ? "uint16" : "int32", out);
    return 0;
  }

  private static Gpt2Tokenizer loadTokenizer(Path dir) {
    if (!Files.exists(dir)) {
      throw new WeftInputException("--tokenizer " + dir + " does not exist; give a folder with GPT-2's vocab.json and "
          + "merges.txt (e.g. a Hugging Face GPT-2 folder), or leave --tokenizer out to use bytes as tokens.");
    }
    Gpt2Tokenizer tok = Gpt2Tokenizer.find(dir);
    if (tok == null) {
      throw new WeftInputException("--tokenizer " + dir + " has no " + Gpt2Tokenizer.VOCAB + " and "
          + Gpt2Tokenizer.MERGES + "; give the folder that holds them (e.g. a Hugging Face GPT-2 folder), or leave "
          + "--tokenizer out to use bytes as tokens.");
    }
    return tok;
  }
}
