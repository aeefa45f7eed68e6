package dev.weft.comm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The in-process backend: every rank is a thread of one JVM and collectives go through shared memory
 * ({@link LocalCommunicator}). One instance per rank; {@link LocalCluster} creates them.
 */
public final class LocalBackend implements Backend {
  private final LocalWorld world;
  private final int rank;
  private final Map<String, Integer> created = new HashMap<>();
  private final List<Communicator> communicators = new ArrayList<>();

  LocalBackend(LocalWorld world, int rank) {
    this.world = world;
    this.rank = rank;
  }

  @Override public int rank() { return rank; }
  @Override public int worldSize() { return world.size; }
  @Override public String name() { return "local"; }

  @Override
  public synchronized Communicator group(int... globalRanks) {
    AbstractCommunicator.checkGroup(globalRanks, rank, world.size);
    String members = Arrays.toString(globalRanks);
    int instance = created.merge(members, 1, Integer::sum) - 1;
    LocalRendezvous rv = world.rendezvous(members + "#" + instance, globalRanks);
    Communicator c = new LocalCommunicator(rv, rank, world.timeout);
    communicators.add(c);
    return c;
  }

  @Override
  public synchronized void close() {
    communicators.forEach(Communicator::close);
    communicators.clear();
  }
}
