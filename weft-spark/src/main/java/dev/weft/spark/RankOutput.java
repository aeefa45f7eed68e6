package dev.weft.spark;

/** Where a rank's output lines go (the driver's log, or the executor's own stdout and stderr). */
interface RankOutput {
  /** One line the rank printed, without its line break; {@code stderr} says on which stream. */
  void line(boolean stderr, String text);
}
