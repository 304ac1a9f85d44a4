package io.replicakv.server.replication;

import io.replicakv.core.util.Check;
import io.replicakv.server.cluster.ClusterView;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The replica groups of one single-leader keyspace: the unit the server replicates, one log, one
 * leader and one epoch each. A group is every {@link PartitionMap} partition of the keyspace with
 * the same preference list, and its id is the lowest partition id (token slot) among them.
 *
 * <p>Why groups and not one log per token range: a node places {@code Ring.DEFAULT_VNODES} = 768
 * tokens, so three nodes make 2,304 partitions per keyspace, each with a replica on every node that
 * would tick, heartbeat the controller and send idle Appends: tens of thousands of messages a
 * second on a machine with two cores, for no data. Ranges with the same preference list have the
 * same replicas and the same leader candidates anyway, so they can share a log: with n nodes and N
 * replicas there are at most n x (n-1) x ... (N factors) groups, six for three nodes. With many
 * nodes the groups approach the partitions one for one. The cost is identity: a join changes the
 * preference list of some ranges, which then belong to another group (see {@code ReplicationLoop}
 * on ring changes).
 */
public final class ReplicaGroups {
  /**
   * One group.
   *
   * @param keyspace keyspace number
   * @param id the lowest token slot among its partitions
   * @param replicas the preference list, member ids, token owner first
   * @param slots the slots it holds
   */
  public record Group(int keyspace, int id, List<String> replicas, BitSet slots) {
    public Group {
      replicas = List.copyOf(replicas);
      Check.argument(!replicas.isEmpty(), "group %s without replicas", id);
    }

    /** Slots held. */
    public int slotCount() {
      return slots.cardinality();
    }
  }

  private final int keyspace;
  private final Map<Integer, Group> byId;
  private final int[] groupBySlot;

  private ReplicaGroups(int keyspace, Map<Integer, Group> byId, int[] groupBySlot) {
    this.keyspace = keyspace;
    this.byId = Collections.unmodifiableMap(byId);
    this.groupBySlot = groupBySlot;
  }

  /** The groups of {@code keyspace} in {@code view}; empty when no node owns slots. */
  public static ReplicaGroups of(ClusterView view, int keyspace) {
    PartitionMap partitions = PartitionMap.of(view, keyspace);
    Map<List<String>, List<PartitionMap.Partition>> byReplicas = new LinkedHashMap<>();
    for (PartitionMap.Partition partition : partitions.partitions().values()) {
      byReplicas.computeIfAbsent(partition.replicas(), r -> new ArrayList<>()).add(partition);
    }
    int[] bySlot = new int[io.replicakv.core.ring.Slots.SLOT_COUNT];
    java.util.Arrays.fill(bySlot, -1);
    Map<Integer, Group> byId = new TreeMap<>();
    for (Map.Entry<List<String>, List<PartitionMap.Partition>> entry : byReplicas.entrySet()) {
      int id = entry.getValue().stream().mapToInt(PartitionMap.Partition::id).min().orElseThrow();
      BitSet slots = new BitSet(io.replicakv.core.ring.Slots.SLOT_COUNT);
      for (PartitionMap.Partition partition : entry.getValue()) {
        for (PartitionMap.SlotRange run : partition.slots()) {
          slots.set(run.firstSlot(), run.lastSlot() + 1);
          java.util.Arrays.fill(bySlot, run.firstSlot(), run.lastSlot() + 1, id);
        }
      }
      byId.put(id, new Group(keyspace, id, entry.getKey(), slots));
    }
    return new ReplicaGroups(keyspace, byId, bySlot);
  }

  /** The keyspace number. */
  public int keyspace() {
    return keyspace;
  }

  /** Every group by id. */
  public Map<Integer, Group> groups() {
    return byId;
  }

  /** The group holding {@code slot}, or null when no node owns slots. */
  public Group groupOfSlot(int slot) {
    int id = groupBySlot[slot];
    return id < 0 ? null : byId.get(id);
  }
}
