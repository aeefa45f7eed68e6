package dev.weft.data;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The fallback corpus, for JDKs that ship without {@code lib/src.zip}: about 4 MB of Java-like source
 * files built from templates (license header, package, imports, class, fields, constructor, methods
 * with loops, branches and javadoc) and a fixed-seed {@link SplitMix}, so it is the same bytes on every
 * machine and every run. It is not real code, but it has the structure a small model can learn.
 */
final class GeneratedCorpus {
  static final int FILES = 400;
  private static final long SEED = 0x57EF7_C0DE_5EEDL;

  private static final String[] NOUNS = {"buffer", "node", "entry", "value", "index", "count", "table", "key",
      "stream", "channel", "task", "queue", "name", "path", "size", "limit", "offset", "state", "token", "layer",
      "weight", "batch", "device", "rank", "group", "shard", "frame", "event", "config", "result", "cache",
      "segment", "block", "record", "field", "type", "handle", "source", "target", "owner"};
  private static final String[] VERBS = {"get", "set", "find", "load", "store", "read", "write", "compute",
      "update", "reset", "check", "build", "merge", "split", "apply", "resolve", "create", "remove", "add",
      "visit", "parse", "format", "flush", "copy", "sort", "scan"};
  private static final String[] ADJECTIVES = {"next", "last", "first", "local", "global", "current", "default",
      "max", "min", "total", "pending", "shared", "cached", "raw", "new", "old"};
  private static final String[] TYPES = {"int", "long", "boolean", "String", "double", "float", "byte[]",
      "int[]", "List<String>", "Map<String, Integer>", "Object"};
  private static final String[] IMPORTS = {"java.util.List", "java.util.Map", "java.util.HashMap",
      "java.util.ArrayList", "java.util.Objects", "java.io.IOException", "java.util.function.Function",
      "java.util.concurrent.atomic.AtomicLong", "java.nio.ByteBuffer", "java.util.Arrays"};
  private static final String[] SENTENCES = {"Returns the %s of this %s.", "Updates the %s when the %s changes.",
      "Checks that the %s fits in the %s.", "Computes the %s from the given %s.",
      "The %s is never null; the %s may be empty.", "Called once per %s, before the %s is read.",
      "Throws if the %s is negative or larger than the %s.", "Copies the %s into the %s, in order."};
  private static final String[] OPS = {"+", "-", "*", "/", "%", "&", "|", "^"};
  private static final String[] COMPARISONS = {"<", "<=", ">", ">=", "==", "!="};

  private GeneratedCorpus() {}

  static String name(int i) {
    return String.format(Locale.ROOT, "weft/gen/Gen%03d.java", i); // name order = index order
  }

  /** The files, in name order. */
  static List<byte[]> files() {
    List<byte[]> out = new ArrayList<>(FILES);
    for (int i = 0; i < FILES; i++) {
      out.add(new Writer(new SplitMix(SplitMix.mix64(SEED + i))).file(i).getBytes(StandardCharsets.UTF_8));
    }
    return out;
  }

  /** Builds one file; all choices come from its generator. */
  private static final class Writer {
    private final SplitMix rng;
    private final StringBuilder sb = new StringBuilder(16 << 10);

    Writer(SplitMix rng) {
      this.rng = rng;
    }

    String file(int index) {
      String pkg = NOUNS[index % NOUNS.length];
      String cls = cap(rng.pick(ADJECTIVES)) + cap(rng.pick(NOUNS)) + cap(rng.pick(new String[] {"Manager",
          "Reader", "Writer", "Builder", "Table", "Index", "Util", "Service", "Handler", "Queue"}));
      sb.append("/*\n * Copyright (c) ").append(2000 + rng.nextInt(26)).append(", Weft generated corpus.\n")
          .append(" * ").append(sentence()).append("\n */\n\n");
      sb.append("package weft.gen.").append(pkg).append(";\n\n");
      int imports = 1 + rng.nextInt(5);
      for (int i = 0; i < imports; i++) sb.append("import ").append(rng.pick(IMPORTS)).append(";\n");
      sb.append("\n/**\n * ").append(sentence()).append("\n * ").append(sentence()).append("\n */\n");
      sb.append("public ").append(rng.nextInt(4) == 0 ? "final " : "").append("class ").append(cls).append(" {\n");
      int fields = 2 + rng.nextInt(5);
      List<String> names = new ArrayList<>();
      for (int i = 0; i < fields; i++) {
        String f = ident();
        names.add(f);
        sb.append("  private ").append(rng.nextInt(2) == 0 ? "final " : "").append(rng.pick(TYPES)).append(' ')
            .append(f).append(";\n");
      }
      sb.append("\n  public ").append(cls).append("(int ").append(names.get(0)).append(") {\n    this.")
          .append(names.get(0)).append(" = ").append(names.get(0)).append(";\n  }\n");
      int methods = 8 + rng.nextInt(14);
      for (int m = 0; m < methods; m++) method(names);
      sb.append("}\n");
      return sb.toString();
    }

    private void method(List<String> fields) {
      String type = rng.pick(TYPES);
      String p = ident();
      sb.append("\n  /**\n   * ").append(sentence()).append("\n   *\n   * @param ").append(p).append(" the ")
          .append(rng.pick(NOUNS)).append(" to use\n   */\n");
      sb.append("  public ").append(type).append(' ').append(rng.pick(VERBS)).append(cap(rng.pick(NOUNS)))
          .append("(int ").append(p).append(") {\n");
      int statements = 2 + rng.nextInt(6);
      for (int s = 0; s < statements; s++) statement(2, p, fields);
      sb.append("    return ").append(returnValue(type, p)).append(";\n  }\n");
    }

    private void statement(int depth, String p, List<String> fields) {
      String pad = "  ".repeat(depth);
      String v = ident();
      switch (rng.nextInt(depth > 3 ? 2 : 5)) {
        case 0 -> sb.append(pad).append("int ").append(v).append(" = ").append(expr(p)).append(";\n");
        case 1 -> sb.append(pad).append(rng.pick(VERBS)).append(cap(rng.pick(NOUNS))).append('(')
            .append(expr(p)).append(", ").append(fields.get(rng.nextInt(fields.size()))).append(");\n");
        case 2 -> {
          sb.append(pad).append("if (").append(p).append(' ').append(rng.pick(COMPARISONS)).append(' ')
              .append(expr(p)).append(") {\n");
          statement(depth + 1, p, fields);
          if (rng.nextInt(2) == 0) {
            sb.append(pad).append("} else {\n");
            statement(depth + 1, p, fields);
          }
          sb.append(pad).append("}\n");
        }
        case 3 -> {
          String i = String.valueOf("ijkmn".charAt(Math.min(depth - 2, 4))); // a fresh name per nesting level
          sb.append(pad).append("for (int ").append(i).append(" = 0; ").append(i).append(" < ").append(p)
              .append("; ").append(i).append("++) {\n");
          statement(depth + 1, i, fields);
          sb.append(pad).append("}\n");
        }
        default -> sb.append(pad).append("if (").append(p).append(" < 0) {\n").append(pad)
            .append("  throw new IllegalArgumentException(\"").append(rng.pick(NOUNS)).append(" must not be "
                + "negative: \" + ").append(p).append(");\n").append(pad).append("}\n");
      }
    }

    private String expr(String p) {
      return switch (rng.nextInt(3)) {
        case 0 -> p + " " + rng.pick(OPS) + " " + (1 + rng.nextInt(64));
        case 1 -> "(" + p + " " + rng.pick(OPS) + " " + ident() + ") " + rng.pick(OPS) + " " + rng.nextInt(10);
        default -> "Math." + rng.pick(new String[] {"max", "min", "floorMod"}) + "(" + p + ", " + rng.nextInt(100)
            + ")";
      };
    }

    private String returnValue(String type, String p) {
      return switch (type) {
        case "int", "long", "double", "float" -> expr(p);
        case "boolean" -> p + " " + rng.pick(COMPARISONS) + " " + rng.nextInt(100);
        case "String" -> "\"" + rng.pick(NOUNS) + "=\" + " + p;
        case "byte[]" -> "new byte[" + p + "]";
        case "int[]" -> "new int[] {" + p + ", " + rng.nextInt(10) + "}";
        case "List<String>" -> "List.of(\"" + rng.pick(NOUNS) + "\")";
        case "Map<String, Integer>" -> "Map.of(\"" + rng.pick(NOUNS) + "\", " + p + ")";
        default -> "null";
      };
    }

    private String ident() {
      return rng.nextInt(3) == 0 ? rng.pick(NOUNS) : rng.pick(ADJECTIVES) + cap(rng.pick(NOUNS));
    }

    private String sentence() {
      return String.format(Locale.ROOT, rng.pick(SENTENCES), rng.pick(NOUNS), rng.pick(NOUNS));
    }

    private static String cap(String s) {
      return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
  }
}
