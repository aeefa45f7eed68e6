package dev.weft.spark;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The weft command line every rank runs ({@code train --dp 2 --tp 2 ...}), read and edited by option name:
 * its layout degrees, its file options, and the edits a Spark job makes (the tcp backend, threads, paths made
 * absolute, {@code --resume auto} on a restart). Options are written {@code --name value} or
 * {@code --name=value}; the last occurrence counts, as in picocli.
 */
final class RankArgs {
  /** The weft commands that run as ranks of a tcp job. */
  static final Set<String> RANK_COMMANDS = Set.of("train", "grads");
  /** File options that the ranks read: every executor must see them. */
  static final Set<String> INPUT_PATHS = Set.of("--data", "--resume", "--checkpoint", "--tokens");
  /** File options that the ranks write: every executor must be able to create them. */
  static final Set<String> OUTPUT_PATHS = Set.of("--save", "--metrics", "--trace", "--out", "--run-dir");
  /** The mesh axes whose degrees multiply to the number of ranks. */
  static final List<String> LAYOUT_DEGREES = List.of("--dp", "--tp", "--pp", "--cp");

  /** A file the ranks read (or write) and every executor must see (or be able to create). */
  record PathCheck(String option, String path, boolean output) implements Serializable {}

  private final List<String> args;

  private RankArgs(List<String> args) {
    this.args = List.copyOf(args);
  }

  /** {@code command} followed by its arguments. */
  static RankArgs of(String command, List<String> args) {
    List<String> all = new ArrayList<>();
    all.add(command);
    all.addAll(args);
    return new RankArgs(all);
  }

  String command() {
    return args.get(0);
  }

  /** True for train and grads, whose ranks form a tcp job and whose options this class understands. */
  boolean isRankCommand() {
    return RANK_COMMANDS.contains(command());
  }

  List<String> toList() {
    return args;
  }

  /** The value of the last occurrence of {@code option}, if given. */
  Optional<String> value(String option) {
    String v = null;
    for (int i = 1; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals(option) && i + 1 < args.size()) v = args.get(++i);
      else if (a.startsWith(option + "=")) v = a.substring(option.length() + 1);
    }
    return Optional.ofNullable(v);
  }

  boolean has(String option) {
    return value(option).isPresent();
  }

  /** This command line with every occurrence of {@code option} replaced by one {@code option value} at the end. */
  RankArgs with(String option, String value) {
    List<String> out = new ArrayList<>();
    out.add(command());
    for (int i = 1; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals(option) && i + 1 < args.size()) i++;
      else if (!a.startsWith(option + "=")) out.add(a);
    }
    out.add(option);
    out.add(value);
    return new RankArgs(out);
  }

  /** The product of the layout degrees given (1 for each one left out). */
  int layoutRanks() {
    int n = 1;
    for (String d : LAYOUT_DEGREES) {
      String v = value(d).orElse("1");
      try {
        n *= Integer.parseInt(v.trim());
      } catch (NumberFormatException e) {
        throw new WeftSparkException(2, d + " '" + v + "' is not a whole number.");
      }
    }
    return n;
  }

  /** The layout as written, e.g. "--dp 2 x --tp 2" (or "one device" when no degree is given). */
  String layoutText() {
    List<String> parts = new ArrayList<>();
    for (String d : LAYOUT_DEGREES) value(d).ifPresent(v -> parts.add(d + " " + v));
    return parts.isEmpty() ? "no --dp/--tp/--pp/--cp (one device)" : String.join(" x ", parts);
  }

  /** This command line with every file option made absolute against {@code base} ("--resume auto" stays). */
  RankArgs withAbsolutePaths(Path base) {
    RankArgs r = this;
    for (PathCheck p : pathChecks()) {
      Path abs = base.resolve(p.path()).toAbsolutePath().normalize();
      if (!abs.toString().equals(p.path())) r = r.with(p.option(), abs.toString());
    }
    return r;
  }

  /** The file options given, to check on every executor before the ranks start. */
  List<PathCheck> pathChecks() {
    List<PathCheck> checks = new ArrayList<>();
    if (!isRankCommand()) return checks;
    for (String o : INPUT_PATHS) {
      value(o).filter(v -> !(o.equals("--resume") && v.equals("auto"))).ifPresent(v -> checks.add(new PathCheck(o, v, false)));
    }
    for (String o : OUTPUT_PATHS) value(o).ifPresent(v -> checks.add(new PathCheck(o, v, true)));
    checks.sort((a, b) -> a.option().compareTo(b.option()));
    return checks;
  }
}
