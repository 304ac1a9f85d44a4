package io.replicakv.core.leaderless;

import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a leaderless keyspace's keys live: slots grouped into partitions, each with its preference
 * list (the N owners) and the whole ring order behind it, from which sloppy quorums draw
 * substitutes (Dynamo paper §4.3 and §4.6).
 *
 * <p>A partition here is a maximal run of consecutive slots whose clockwise node order is the same;
 * every key in it has the same owners and the same substitutes, so a Merkle tree per partition
 * compares like with like on every owner. Node ids are the ring's ids parsed as integers (the
 * simulator's and server's numeric node ids). Immutable.
 */
public final class Placement {
  private final int replicas;
  private final int[] partitionBySlot = new int[Slots.SLOT_COUNT];
  private final List<List<Integer>> orderByPartition = new ArrayList<>();

  /** The placement of {@code ring} with {@code replicas} owners per partition. */
  public Placement(Ring ring, int replicas) {
    Check.argument(replicas >= 1, "replicas %s < 1", replicas);
    Check.argument(
        ring.nodes().size() >= replicas,
        "ring has %s nodes, fewer than %s replicas",
        ring.nodes().size(),
        replicas);
    this.replicas = replicas;
    int nodes = ring.nodes().size();
    List<Integer> previous = null;
    for (int slot = 0; slot < Slots.SLOT_COUNT; slot++) {
      List<Integer> order =
          ring.preferenceList(slot, nodes).stream().map(Integer::parseInt).toList();
      if (!order.equals(previous)) {
        orderByPartition.add(order);
        previous = order;
      }
      partitionBySlot[slot] = orderByPartition.size() - 1;
    }
  }

  /** Owners per partition (N). */
  public int replicas() {
    return replicas;
  }

  /** Number of partitions. */
  public int partitionCount() {
    return orderByPartition.size();
  }

  /** The partition holding {@code key}. */
  public int partitionOf(String key) {
    return partitionBySlot[Slots.slot(key)];
  }

  /** The preference list: the N owners of {@code partition}, in ring order. */
  public List<Integer> owners(int partition) {
    return ringOrder(partition).subList(0, replicas);
  }

  /** Every node in ring order from the partition's first owner; owners first. */
  public List<Integer> ringOrder(int partition) {
    Check.argument(
        partition >= 0 && partition < orderByPartition.size(), "partition %s", partition);
    return orderByPartition.get(partition);
  }

  /** True when {@code node} is one of the partition's owners. */
  public boolean owns(int node, int partition) {
    return owners(partition).contains(node);
  }

  /** The partitions {@code node} owns, ascending. */
  public List<Integer> partitionsOf(int node) {
    List<Integer> result = new ArrayList<>();
    for (int p = 0; p < orderByPartition.size(); p++) {
      if (owns(node, p)) {
        result.add(p);
      }
    }
    return result;
  }
}
