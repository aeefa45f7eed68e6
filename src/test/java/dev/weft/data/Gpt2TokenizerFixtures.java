package dev.weft.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A small but real byte-level BPE tokenizer written to a folder, for tests. */
public final class Gpt2TokenizerFixtures {
  /** Merges of the test vocabulary, in rank order; their tokens get ids 256.. in this order. */
  public static final String[] MERGES = {"Ġ t", "h e", "Ġt he", "a a", "i n", "Ġ a", "Ġa n", "Ġan d", "' s", "Ã ©"};
  /** Ids of the test vocabulary: 256 bytes, the merges and <|endoftext|>. */
  public static final int VOCAB_SIZE = 256 + MERGES.length + 1;

  private Gpt2TokenizerFixtures() {}

  /**
   * Writes vocab.json and merges.txt: the 256 byte tokens in GPT-2's order (printable bytes first, so the
   * ids of single bytes are GPT-2's own: '!' 0, 't' 83, 'Ġ' 220), the merges, then <|endoftext|>.
   */
  public static void writeTokenizer(Path dir, String[] merges) throws IOException {
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (int b = 0; b < 256; b++) {
      if (Gpt2Tokenizer.BYTE_TO_CHAR[b] == b) vocab.put(String.valueOf((char) b), vocab.size());
    }
    for (int b = 0; b < 256; b++) {
      if (Gpt2Tokenizer.BYTE_TO_CHAR[b] != b) vocab.put(String.valueOf(Gpt2Tokenizer.BYTE_TO_CHAR[b]), vocab.size());
    }
    for (String m : merges) vocab.put(m.replace(" ", ""), vocab.size());
    vocab.put("<|endoftext|>", vocab.size());
    Files.writeString(dir.resolve("vocab.json"), new ObjectMapper().writeValueAsString(vocab));
    Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", merges) + "\n");
  }

  /** The test tokenizer with {@link #MERGES}. */
  public static void writeTokenizer(Path dir) throws IOException {
    writeTokenizer(dir, MERGES);
  }
}
