package dev.weft;

import java.util.Locale;

/**
 * Counts in output, grammatical: "1 step", "2 steps", "1 entry", "3 entries", "1 micro-batch", "4 micro-batches".
 * Every message that prints a number of things goes through here, so no line says "1 steps".
 */
public final class Counts {
  private Counts() {}

  /** {@code n} and the noun, singular when n is 1: "1 step", "1,000 steps". */
  public static String of(long n, String noun) {
    return String.format(Locale.ROOT, "%,d %s", n, noun(n, noun));
  }

  /** The noun alone, singular when {@code n} is 1, plural otherwise. */
  public static String noun(long n, String noun) {
    return n == 1 ? noun : plural(noun);
  }

  /** English plural of a regular noun: -y after a consonant becomes -ies; -s, -x, -ch, -sh take -es. */
  static String plural(String noun) {
    int len = noun.length();
    if (len > 1 && noun.endsWith("y") && "aeiou".indexOf(noun.charAt(len - 2)) < 0) {
      return noun.substring(0, len - 1) + "ies";
    }
    if (noun.endsWith("s") || noun.endsWith("x") || noun.endsWith("ch") || noun.endsWith("sh")) return noun + "es";
    return noun + "s";
  }
}
