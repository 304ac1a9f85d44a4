package io.replicakv.core.leaderless;

import io.replicakv.core.Envelope;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A tiny deterministic driver for state-machine tests: five nodes, FIFO delivery, nodes that can be
 * cut off (messages to and from them dropped) and restarted from their records. Every record counts
 * as synced; crash-loss of unsynced records is the simulator's business.
 */
final class TestCluster {
  static final int NODES = 5;

  final Placement placement;
  LeaderlessConfig config;
  final Map<Integer, LeaderlessNode> nodes = new TreeMap<>();
  final Map<Integer, List<PersistRecord>> disks = new TreeMap<>();
  final Set<Integer> isolated = new HashSet<>();
  final Deque<Envelope> inFlight = new ArrayDeque<>();
  final List<Envelope> delivered = new ArrayList<>();
  long physicalMillis = 1_000;
  boolean dropReplicates;

  TestCluster(LeaderlessConfig config) {
    List<RingNode> ringNodes = new ArrayList<>();
    for (int id = 0; id < NODES; id++) {
      ringNodes.add(RingNode.of(Integer.toString(id)));
    }
    this.config = config;
    this.placement = new Placement(Ring.of(8, ringNodes), config.replicas());
    for (int id = 0; id < NODES; id++) {
      disks.put(id, new ArrayList<>());
      nodes.put(id, new LeaderlessNode(id, placement, config, () -> physicalMillis, List.of()));
    }
    settle();
  }

  LeaderlessNode node(int id) {
    return nodes.get(id);
  }

  List<Integer> owners(String key) {
    return placement.owners(placement.partitionOf(key));
  }

  /** A node that does not own {@code key}. */
  int nonOwner(String key) {
    for (int id = 0; id < NODES; id++) {
      if (!owners(key).contains(id)) {
        return id;
      }
    }
    throw new IllegalStateException("every node owns " + key);
  }

  /** Drains every node's Ready and delivers messages until nothing moves. */
  void settle() {
    for (int round = 0; round < 100_000; round++) {
      boolean moved = false;
      for (Map.Entry<Integer, LeaderlessNode> entry : nodes.entrySet()) {
        Ready ready = entry.getValue().ready();
        if (!ready.isEmpty()) {
          moved = true;
          disks.get(entry.getKey()).addAll(ready.records());
          inFlight.addAll(ready.messages());
          entry.getValue().advance(ready);
        }
      }
      Envelope next = inFlight.poll();
      if (next != null) {
        moved = true;
        int from = next.message().from();
        boolean replicate =
            dropReplicates
                && next.message() instanceof io.replicakv.core.msg.LeaderlessMessage.Replicate;
        if (!isolated.contains(from) && !isolated.contains(next.to()) && !replicate) {
          delivered.add(next);
          nodes.get(next.to()).step(next.message());
        }
      }
      if (!moved) {
        return;
      }
    }
    throw new IllegalStateException("cluster did not settle");
  }

  /** Ticks every node {@code count} times, settling after each. */
  void tick(int count) {
    for (int i = 0; i < count; i++) {
      physicalMillis += 10;
      nodes.values().forEach(LeaderlessNode::tick);
      settle();
    }
  }

  /** Ticks until the nodes not isolated suspect the isolated ones. */
  void tickUntilSuspected() {
    tick(config.suspectAfterTicks() + 2);
  }

  /** Restarts every node from its records under {@code config} (same N). */
  static void replaceConfig(TestCluster cluster, LeaderlessConfig config) {
    cluster.config = config;
    for (int id = 0; id < NODES; id++) {
      cluster.restart(id);
    }
  }

  /** Rebuilds node {@code id} from its records, as after a crash. */
  void restart(int id) {
    nodes.put(id, new LeaderlessNode(id, placement, config, () -> physicalMillis, disks.get(id)));
    settle();
  }

  KvResult put(int coordinator, String key, String value) {
    return put(
        coordinator, key, new Write.Value(value), io.replicakv.core.causal.VersionVector.EMPTY, 0);
  }

  KvResult put(
      int coordinator,
      String key,
      Write write,
      io.replicakv.core.causal.VersionVector context,
      int quorum) {
    node(coordinator).submit(new KvRequest.Put(1, nextRequest++, key, write, context, quorum));
    return awaitResult(coordinator);
  }

  KvResult get(int coordinator, String key) {
    return get(coordinator, key, 0);
  }

  KvResult get(int coordinator, String key, int quorum) {
    node(coordinator).submit(new KvRequest.Get(1, nextRequest++, key, quorum));
    return awaitResult(coordinator);
  }

  private long nextRequest = 1;

  /** Settles, ticking up to the request timeout, until the coordinator has a result. */
  KvResult awaitResult(int coordinator) {
    settle();
    for (int i = 0; i <= config.requestTimeoutTicks() + 1; i++) {
      List<KvResult> results = node(coordinator).takeResults();
      if (!results.isEmpty()) {
        return results.get(0);
      }
      tick(1);
    }
    throw new IllegalStateException("no result from " + coordinator);
  }
}
