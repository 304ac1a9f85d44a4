package io.replicakv.server.replication;

import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The partitions of one keyspace under one cluster view: which slots each holds, its replica set,
 * and which of them a node replicates.
 *
 * <p>A partition is the run of slots one ring token owns, in one keyspace (DESIGN.md): the slots
 * after the previous token up to and including the token's own slot. Its id is that token slot,
 * which is unique (one token wins each slot) and stable while the token stays: a join splits a
 * range into the new token's part, which gets a new id, and the old token's remainder, which keeps
 * its id and owner. The range of the first token wraps: it holds the slots after the last token and
 * those up to itself, so it is the one partition with two slot runs. Its replica set is the ring's
 * preference list for the keyspace's replication factor (owner, then the next distinct nodes
 * clockwise, rack-aware), computed by {@link Ring#preferenceList} so that routing and replication
 * can never disagree.
 *
 * <p>Unlike {@link ClusterView#partitions}, which merges neighbouring slots with equal preference
 * lists into one assignment, two adjacent tokens of one node stay two partitions here: a partition
 * keeps its own log and epoch, and merging would change a partition's identity whenever a
 * neighbouring token moved.
 *
 * <p>Immutable; built in O(slots + partitions x N) from the view, about 20 ms for a thousand nodes.
 */
public final class PartitionMap {
  /** One contiguous run of slots, both ends inclusive. */
  public record SlotRange(int firstSlot, int lastSlot) {
    public SlotRange {
      Check.argument(
          0 <= firstSlot && firstSlot <= lastSlot && lastSlot < Slots.SLOT_COUNT,
          "slot range %s..%s",
          firstSlot,
          lastSlot);
    }

    /** Slots in the run. */
    public int slotCount() {
      return lastSlot - firstSlot + 1;
    }
  }

  /**
   * One partition.
   *
   * @param keyspace the keyspace number
   * @param id the slot of the token that owns the range; unique within the keyspace
   * @param slots one run, or two for the range that wraps past slot 16383
   * @param replicas the preference list, the token's node first
   */
  public record Partition(int keyspace, int id, List<SlotRange> slots, List<String> replicas) {
    public Partition {
      slots = List.copyOf(slots);
      replicas = List.copyOf(replicas);
      Check.argument(!slots.isEmpty() && slots.size() <= 2, "%s slot runs", slots.size());
      Check.argument(!replicas.isEmpty(), "partition %s without replicas", id);
    }

    /** True when {@code slot} belongs to this partition. */
    public boolean contains(int slot) {
      return slots.stream().anyMatch(run -> run.firstSlot() <= slot && slot <= run.lastSlot());
    }

    /** Slots held, across runs. */
    public int slotCount() {
      return slots.stream().mapToInt(SlotRange::slotCount).sum();
    }

    /** The token owner, which the controller prefers as leader when it has the newest log. */
    public String owner() {
      return replicas.getFirst();
    }
  }

  private final int keyspace;
  private final int replicationFactor;
  private final Map<Integer, Partition> byId;
  private final int[] partitionIdBySlot;

  private PartitionMap(
      int keyspace, int replicationFactor, Map<Integer, Partition> byId, int[] partitionIdBySlot) {
    this.keyspace = keyspace;
    this.replicationFactor = replicationFactor;
    this.byId = Collections.unmodifiableMap(byId);
    this.partitionIdBySlot = partitionIdBySlot;
  }

  /**
   * The partitions of {@code keyspace} in {@code view}, with the keyspace's replica count; empty
   * when the keyspace is unknown or no node owns slots.
   */
  public static PartitionMap of(ClusterView view, int keyspace) {
    KeyspaceEntry entry = view.keyspaces().get(keyspace);
    if (entry == null) {
      return of(view.ring(), keyspace, 1, true);
    }
    return of(view.ring(), keyspace, entry.config().replicas(), false);
  }

  /** The partitions of {@code ring} for a keyspace replicated {@code replicationFactor} times. */
  public static PartitionMap of(Ring ring, int keyspace, int replicationFactor) {
    return of(ring, keyspace, replicationFactor, false);
  }

  private static PartitionMap of(Ring ring, int keyspace, int replicationFactor, boolean empty) {
    Check.argument(replicationFactor >= 1, "replication factor %s < 1", replicationFactor);
    int[] bySlot = new int[Slots.SLOT_COUNT];
    Arrays.fill(bySlot, -1);
    if (empty || ring.nodes().isEmpty()) {
      return new PartitionMap(keyspace, replicationFactor, new TreeMap<>(), bySlot);
    }
    Map<Integer, List<SlotRange>> runs = new TreeMap<>();
    int runStart = 0;
    int runToken = ring.ownerTokenSlot(0);
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      int token = ring.ownerTokenSlot(slot);
      bySlot[slot] = token;
      if (token != runToken) {
        runs.computeIfAbsent(runToken, t -> new ArrayList<>())
            .add(new SlotRange(runStart, slot - 1));
        runStart = slot;
        runToken = token;
      }
    }
    runs.computeIfAbsent(runToken, t -> new ArrayList<>())
        .add(new SlotRange(runStart, Slots.SLOT_COUNT - 1));
    Map<Integer, Partition> byId = new TreeMap<>();
    runs.forEach(
        (token, slots) ->
            byId.put(
                token,
                new Partition(
                    keyspace, token, slots, ring.preferenceList(token, replicationFactor))));
    return new PartitionMap(keyspace, replicationFactor, byId, bySlot);
  }

  /** The keyspace number. */
  public int keyspace() {
    return keyspace;
  }

  /** Replicas per partition (fewer when the ring has fewer nodes). */
  public int replicationFactor() {
    return replicationFactor;
  }

  /** Every partition, by id (ascending token slot). */
  public Map<Integer, Partition> partitions() {
    return byId;
  }

  /** The partition with id {@code id}, or null. */
  public Partition partition(int id) {
    return byId.get(id);
  }

  /** The partition holding {@code slot}; null when the map is empty. */
  public Partition partitionOfSlot(int slot) {
    Check.argument(slot >= 0 && slot < Slots.SLOT_COUNT, "slot %s out of range", slot);
    int id = partitionIdBySlot[slot];
    return id < 0 ? null : byId.get(id);
  }

  /** The partitions that list {@code nodeId} among their replicas, in id order. */
  public List<Partition> heldBy(String nodeId) {
    return byId.values().stream().filter(p -> p.replicas().contains(nodeId)).toList();
  }

  /** The partitions whose token {@code nodeId} owns (it is first in the preference list). */
  public List<Partition> ownedBy(String nodeId) {
    return byId.values().stream().filter(p -> p.owner().equals(nodeId)).toList();
  }
}
