package io.replicakv.core.single;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.quorum.Acks;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A hand-driven partition for state-machine tests: replicas 0..2, controller 3, a FIFO "network"
 * the test pumps, a disk per node that keeps every record (tests that need loss drop them by hand)
 * and a filter that cuts chosen messages.
 */
final class TestCluster {
  static final List<Integer> REPLICAS = List.of(0, 1, 2);
  static final int CONTROLLER = 3;

  final SingleLeaderConfig config;
  final Map<Integer, Replica> nodes = new TreeMap<>();
  final Map<Integer, List<PersistRecord>> disks = new TreeMap<>();
  final Map<Long, Reply> replies = new TreeMap<>();
  final List<CommittedEntry> committed = new ArrayList<>();
  final Map<Integer, List<CommittedEntry>> committedByNode = new TreeMap<>();

  /**
   * Per node, the request ids answered, in answer order, interleaved with commits as "c<offset>".
   */
  final Map<Integer, List<String>> outputOrder = new TreeMap<>();

  final Deque<PeerMessage> inFlight = new ArrayDeque<>();
  final List<PeerMessage> sent = new ArrayList<>();
  Predicate<PeerMessage> cut = message -> false;
  private final boolean followerReads;

  TestCluster(Acks acks, boolean followerReads) {
    this(SingleLeaderConfig.forSimulation(REPLICAS, CONTROLLER, acks), followerReads);
  }

  TestCluster(SingleLeaderConfig config, boolean followerReads) {
    this.config = config;
    this.followerReads = followerReads;
    for (int id : REPLICAS) {
      disks.put(id, new ArrayList<>());
      nodes.put(id, new PartitionReplica(id, config, followerReads, List.of()));
    }
    disks.put(CONTROLLER, new ArrayList<>());
    nodes.put(CONTROLLER, new PartitionController(CONTROLLER, config, List.of()));
  }

  PartitionReplica replica(int id) {
    return (PartitionReplica) nodes.get(id);
  }

  PartitionController controller() {
    return (PartitionController) nodes.get(CONTROLLER);
  }

  /** Drains every node's Ready into the network and delivers until nothing moves. */
  void settle() {
    for (int round = 0; round < 10_000; round++) {
      drainAll();
      if (inFlight.isEmpty()) {
        return;
      }
      while (!inFlight.isEmpty()) {
        PeerMessage message = inFlight.poll();
        Replica target = nodes.get(message.to());
        if (target != null && !cut.test(message)) {
          target.step(message);
        }
      }
    }
    throw new AssertionError("cluster did not settle");
  }

  /** Ticks every running node {@code ticks} times, settling after each. */
  void tick(int ticks) {
    for (int i = 0; i < ticks; i++) {
      for (Replica node : nodes.values()) {
        node.tick();
      }
      settle();
    }
  }

  /** Ticks until {@code done} holds, at most {@code maxTicks}; fails otherwise. */
  void tickUntil(java.util.function.BooleanSupplier done, int maxTicks) {
    for (int i = 0; i < maxTicks && !done.getAsBoolean(); i++) {
      tick(1);
    }
    if (!done.getAsBoolean()) {
      throw new AssertionError("condition not reached in " + maxTicks + " ticks: " + nodes);
    }
  }

  /** The replica that accepts writes, after ticking until one does. */
  int electedLeader() {
    tickUntil(() -> leaderAcceptingWrites() >= 0, 200);
    return leaderAcceptingWrites();
  }

  int leaderAcceptingWrites() {
    for (int id : REPLICAS) {
      if (nodes.get(id) instanceof PartitionReplica replica && replica.acceptsWrites()) {
        return id;
      }
    }
    return -1;
  }

  private long nextRequestId = 1;

  /** Sends a client request to {@code node}; its reply lands in {@link #replies} by request id. */
  long request(int node, Operation operation, Lsn token) {
    long requestId = nextRequestId++;
    nodes.get(node).step(new ClientRequest(7, requestId, operation, token));
    settle();
    return requestId;
  }

  long put(int node, String key, String value) {
    return request(node, new Operation.Put(key, value), Lsn.ZERO);
  }

  long get(int node, String key, Lsn token) {
    return request(node, new Operation.Get(key), token);
  }

  /** Crashes {@code id}: the replica object is dropped; its disk keeps every record. */
  void crash(int id) {
    drainAll();
    nodes.remove(id);
  }

  void restart(int id) {
    nodes.put(
        id,
        id == CONTROLLER
            ? new PartitionController(id, config, disks.get(id))
            : new PartitionReplica(id, config, followerReads, disks.get(id)));
    settle();
  }

  private void drainAll() {
    for (Map.Entry<Integer, Replica> node : nodes.entrySet()) {
      for (Ready ready = node.getValue().ready();
          !ready.isEmpty();
          ready = node.getValue().ready()) {
        disks.get(node.getKey()).addAll(ready.records());
        ready.messages().forEach(envelope -> inFlight.add(envelope.message()));
        ready.messages().forEach(envelope -> sent.add(envelope.message()));
        List<String> order = outputOrder.computeIfAbsent(node.getKey(), id -> new ArrayList<>());
        // The node loop applies a Ready's committed entries before it sends its replies.
        ready.committed().forEach(entry -> order.add("c" + entry.offset()));
        for (ClientReply reply : ready.replies()) {
          replies.put(reply.requestId(), reply.reply());
          order.add("r" + reply.requestId());
        }
        committed.addAll(ready.committed());
        committedByNode
            .computeIfAbsent(node.getKey(), id -> new ArrayList<>())
            .addAll(ready.committed());
        node.getValue().advance(ready);
      }
    }
  }
}
