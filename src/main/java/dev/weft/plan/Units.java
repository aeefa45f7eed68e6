package dev.weft.plan;

import java.util.Locale;

/** Human-readable bytes (binary units), seconds and rates for plan output. */
public final class Units {
  private Units() {
  }

  public static String bytes(double b) {
    String[] u = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int i = 0;
    while (Math.abs(b) >= 1024 && i < u.length - 1) {
      b /= 1024;
      i++;
    }
    return String.format(Locale.ROOT, i == 0 ? "%.0f %s" : "%.1f %s", b, u[i]);
  }

  public static String seconds(double s) {
    if (s >= 1) return String.format(Locale.ROOT, "%.2f s", s);
    if (s >= 1e-3) return String.format(Locale.ROOT, "%.1f ms", s * 1e3);
    return String.format(Locale.ROOT, "%.0f us", s * 1e6);
  }

  public static String count(double x) {
    if (x >= 1e12) return String.format(Locale.ROOT, "%.2fT", x / 1e12);
    if (x >= 1e9) return String.format(Locale.ROOT, "%.2fG", x / 1e9);
    if (x >= 1e6) return String.format(Locale.ROOT, "%.2fM", x / 1e6);
    if (x >= 1e3) return String.format(Locale.ROOT, "%.1fk", x / 1e3);
    return String.format(Locale.ROOT, "%.0f", x);
  }

  public static String pct(double f) {
    return String.format(Locale.ROOT, "%.1f%%", 100 * f);
  }
}
