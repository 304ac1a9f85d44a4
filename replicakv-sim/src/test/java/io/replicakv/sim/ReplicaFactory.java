package io.replicakv.sim;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Replica;
import java.util.List;

/**
 * Builds the replica a node runs, at first start and after every restart, from nothing but what its
 * disk kept; this is how the simulator proves that a role keeps no state outside its records.
 */
@FunctionalInterface
public interface ReplicaFactory {
  /**
   * What a starting node knows.
   *
   * @param nodeId this node
   * @param members every node of the group, ascending
   * @param clock this node's physical clock
   * @param recovered the records its disk returned, in append order
   */
  record NodeContext(
      int nodeId, List<Integer> members, PhysicalClock clock, List<PersistRecord> recovered) {
    public NodeContext {
      members = List.copyOf(members);
      recovered = List.copyOf(recovered);
    }
  }

  /** A replica for the node described by {@code context}. */
  Replica start(NodeContext context);
}
