package io.replicakv.server.cluster;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * One partition: a ring range in one keyspace, its replica set (preference list), leader and epoch.
 *
 * @param keyspace the keyspace number
 * @param firstSlot first slot of the range, inclusive
 * @param lastSlot last slot of the range, inclusive
 * @param replicas the preference list: the owner of the range, then the next distinct nodes
 * @param leader the replica that leads the range (single-leader keyspaces)
 * @param epoch increases whenever the range's leader or replica set may have changed
 */
public record PartitionAssignment(
    int keyspace, int firstSlot, int lastSlot, List<String> replicas, String leader, long epoch) {
  /** Copies the replica list and checks that the leader is one of the replicas. */
  public PartitionAssignment {
    Check.argument(firstSlot <= lastSlot, "firstSlot %s > lastSlot %s", firstSlot, lastSlot);
    replicas = List.copyOf(replicas);
    Check.argument(!replicas.isEmpty(), "partition without replicas");
    Check.argument(replicas.contains(leader), "leader %s not in replicas %s", leader, replicas);
    Check.argument(epoch >= 0, "epoch %s < 0", epoch);
  }

  /** True when {@code slot} lies in this partition's range. */
  public boolean contains(int slot) {
    return slot >= firstSlot && slot <= lastSlot;
  }
}
