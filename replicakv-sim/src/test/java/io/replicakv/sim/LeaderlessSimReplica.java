package io.replicakv.sim;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Ready;
import io.replicakv.core.Replica;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.leaderless.KvRequest;
import io.replicakv.core.leaderless.KvResult;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.leaderless.LeaderlessNode;
import io.replicakv.core.leaderless.Placement;
import io.replicakv.core.leaderless.Write;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Drives a {@link LeaderlessNode} in the simulator and plays the client library's part: the
 * simulator's clients send plain {@code Get}/{@code Put}, and this adapter attaches to each put the
 * causal context the same client last received for that key (from a read or a write), as the Java
 * client does for a real server. The contexts live in {@link ClientContexts}, shared by the
 * adapters of one run and untouched by node crashes, since they are client state.
 */
final class LeaderlessSimReplica implements Replica, StateView {
  /** The causal contexts the clients hold, by client and key. */
  static final class ClientContexts {
    private final Map<String, VersionVector> byClientAndKey = new HashMap<>();

    /** Forgets every context: a new run has new clients. */
    void clear() {
      byClientAndKey.clear();
    }

    VersionVector get(long clientId, String key) {
      return byClientAndKey.getOrDefault(clientId + "/" + key, VersionVector.EMPTY);
    }

    /**
     * Joins {@code context} into what the client has seen: a read that missed the client's own
     * earlier write (possible with sloppy quorums) must not make the client forget that write.
     */
    void see(long clientId, String key, VersionVector context) {
      byClientAndKey.merge(clientId + "/" + key, context, VersionVector::merge);
    }
  }

  private record InFlight(String key, boolean isWrite) {}

  private final LeaderlessNode node;
  private final ClientContexts contexts;
  private final boolean sendContexts;
  private final Map<String, InFlight> inFlight = new HashMap<>();
  private final List<ClientReply> replies = new ArrayList<>();
  private Ready nodeReady = Ready.EMPTY;

  LeaderlessSimReplica(LeaderlessNode node, ClientContexts contexts, boolean sendContexts) {
    this.node = node;
    this.contexts = contexts;
    this.sendContexts = sendContexts;
  }

  /** Ring of nodes "0".."nodeCount-1" with {@code vnodes} tokens each. */
  static Placement placement(int nodeCount, int vnodes, int replicas) {
    List<RingNode> nodes = new ArrayList<>();
    for (int id = 0; id < nodeCount; id++) {
      nodes.add(RingNode.of(Integer.toString(id)));
    }
    return new Placement(Ring.of(vnodes, nodes), replicas);
  }

  /**
   * A factory whose replicas share {@code contexts} (clear them before each run) and read their
   * clock rounded down to {@code clockGranularityMillis} (1 for the simulator's clock as is; more
   * models coarse timestamps, which make equal HLC timestamps common).
   */
  static ReplicaFactory factory(
      Placement placement,
      LeaderlessConfig config,
      ClientContexts contexts,
      boolean sendContexts,
      long clockGranularityMillis) {
    Check.argument(clockGranularityMillis >= 1, "granularity %s", clockGranularityMillis);
    return context -> {
      PhysicalClock clock = context.clock();
      PhysicalClock coarse =
          () ->
              Math.max(0, clock.physicalMillis()) / clockGranularityMillis * clockGranularityMillis;
      return start(
          placement, config, contexts, sendContexts, context.nodeId(), coarse, context.recovered());
    };
  }

  private static Replica start(
      Placement placement,
      LeaderlessConfig config,
      ClientContexts contexts,
      boolean sendContexts,
      int nodeId,
      PhysicalClock clock,
      List<PersistRecord> recovered) {
    return new LeaderlessSimReplica(
        new LeaderlessNode(nodeId, placement, config, clock, recovered), contexts, sendContexts);
  }

  LeaderlessNode node() {
    return node;
  }

  @Override
  public void step(Message message) {
    switch (message) {
      case PeerMessage peer -> node.step(peer);
      case ClientRequest request -> {
        String key = request.operation().key();
        inFlight.put(
            request.clientId() + "/" + request.requestId(),
            new InFlight(key, request.operation() instanceof Operation.Put));
        switch (request.operation()) {
          case Operation.Get get ->
              node.submit(
                  new KvRequest.Get(
                      request.clientId(), request.requestId(), key, KvRequest.DEFAULT_QUORUM));
          case Operation.Put put ->
              node.submit(
                  new KvRequest.Put(
                      request.clientId(),
                      request.requestId(),
                      key,
                      new Write.Value(put.value()),
                      sendContexts ? contexts.get(request.clientId(), key) : VersionVector.EMPTY,
                      KvRequest.DEFAULT_QUORUM));
        }
      }
    }
  }

  @Override
  public void tick() {
    node.tick();
  }

  @Override
  public Ready ready() {
    for (KvResult result : node.takeResults()) {
      InFlight request = inFlight.remove(result.clientId() + "/" + result.requestId());
      Check.state(request != null, "result for unknown request %s", result);
      if (result.outcome() == KvResult.Outcome.OK) {
        contexts.see(result.clientId(), request.key(), result.context());
      }
      replies.add(
          new ClientReply(
              result.clientId(), result.requestId(), result.toReply(request.isWrite())));
    }
    nodeReady = node.ready();
    if (replies.isEmpty()) {
      return nodeReady;
    }
    List<ClientReply> all = new ArrayList<>(nodeReady.replies());
    all.addAll(replies);
    return new Ready(
        nodeReady.records(),
        nodeReady.syncBeforeSend(),
        nodeReady.messages(),
        all,
        nodeReady.committed());
  }

  @Override
  public void advance(Ready done) {
    int ours = done.replies().size() - nodeReady.replies().size();
    Check.argument(ours >= 0 && ours <= replies.size(), "advance with unknown replies");
    replies.subList(0, ours).clear();
    node.advance(nodeReady);
    nodeReady = Ready.EMPTY;
  }

  @Override
  public Map<String, List<String>> visibleState() {
    return node.visibleState();
  }
}
