package dev.weft.comm;

/**
 * A rank's view of the world of devices: who it is and how to talk to explicit groups of ranks.
 * There is no global state: callers create the communicators they need and pass them down.
 *
 * <p>Implementations: {@link LocalBackend} (ranks are threads of one JVM) and {@link TcpBackend}
 * (ranks are processes joined by sockets).
 */
public interface Backend extends AutoCloseable {
  /** This rank's global rank. */
  int rank();

  /** The number of ranks in the world. */
  int worldSize();

  /** "local" or "tcp". */
  String name();

  /** How the collectives of a group of these global ranks travel, for people: "local", "tcp, sockets"... */
  default String describeTransport(int... globalRanks) {
    return name();
  }

  /**
   * A communicator for the group of the given global ranks (sorted, distinct, containing
   * {@link #rank()}). Every member must create its communicators for a given member list in the
   * same order: the n-th communicator created for a list on one rank talks to the n-th on the others.
   */
  Communicator group(int... globalRanks);

  /** A communicator for the whole world. */
  default Communicator world() {
    int[] all = new int[worldSize()];
    for (int i = 0; i < all.length; i++) all[i] = i;
    return group(all);
  }

  /** Closes every communicator created here and releases the backend's resources. */
  @Override
  void close();
}
