package dev.weft.plan;

/**
 * Alpha-beta cost of the collectives Weft uses, per algorithm, for a group of n devices on a link of
 * bandwidth bw (bytes/s per direction) and latency alpha (Thakur, Rabenseifner and Gropp 2005,
 * "Optimization of Collective Communication Operations in MPICH"; Patarasuk and Yuan 2009 for the ring):
 * <ul>
 * <li>ring all-reduce of S bytes: {@code 2 (n-1)/n * S / bw + 2 (n-1) alpha}
 *     (a reduce-scatter followed by an all-gather);
 * <li>ring reduce-scatter or all-gather of S bytes (S = the full, unsharded size):
 *     {@code (n-1)/n * S / bw + (n-1) alpha};
 * <li>pairwise all-to-all where each device holds S bytes and keeps 1/n of them:
 *     {@code (n-1)/n * S / bw + (n-1) alpha};
 * <li>point-to-point of S bytes: {@code S / bw + alpha}.
 * </ul>
 * A group of one device costs nothing.
 */
public final class Collectives {
  private Collectives() {
  }

  public static double allReduce(int n, double bytes, Link link) {
    if (n <= 1 || bytes <= 0) return 0;
    return 2.0 * (n - 1) / n * bytes / link.bytesPerSecond() + 2.0 * (n - 1) * link.latencySeconds();
  }

  public static double reduceScatter(int n, double bytes, Link link) {
    if (n <= 1 || bytes <= 0) return 0;
    return (double) (n - 1) / n * bytes / link.bytesPerSecond() + (n - 1) * link.latencySeconds();
  }

  public static double allGather(int n, double bytes, Link link) {
    return reduceScatter(n, bytes, link);
  }

  public static double allToAll(int n, double bytes, Link link) {
    return reduceScatter(n, bytes, link);
  }

  public static double p2p(double bytes, Link link) {
    if (bytes <= 0) return 0;
    return bytes / link.bytesPerSecond() + link.latencySeconds();
  }
}
