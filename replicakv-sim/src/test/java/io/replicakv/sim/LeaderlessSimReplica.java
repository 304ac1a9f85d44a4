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
import java.util.TreeMap;

/**
 * Drives a {@link LeaderlessNode} in the simulator and plays the client library's part: the
 * simulator's clients send plain {@code Get}/{@code Put}, and this adapter turns each put into the
 * workload's write (a register write carrying the causal context the same client last saw for the
 * key, as the Java client does; or a set add; or a counter increment) and each get into a read.
 * Client contexts live in {@link RunState}, shared by the adapters of one run and untouched by node
 * crashes, since they are client state.
 */
final class LeaderlessSimReplica implements Replica, StateView {
  /** What the simulated clients write. */
  enum Workload {
    /** {@code SET key value} with the client's causal context. */
    REGISTER,
    /** {@code SET key value} without context (blind writes). */
    BLIND_REGISTER,
    /**
     * {@code SET} with context, except that every {@link #DELETE_EVERY}-th request of a client is a
     * {@code DEL} with context (its value only names the delete in the history).
     */
    REGISTER_WITH_DELETES,
    /** Broken: as {@link #REGISTER_WITH_DELETES}, but deletes are sent without context. */
    REGISTER_WITH_BLIND_DELETES,
    /** {@code SADD key value}: a grow-only use of the add-wins set. */
    SET,
    /** {@code INCRBY key 1}; the written value only names the increment in the history. */
    COUNTER,
    /**
     * A CRDT hash: even request ids are {@code HINCRBY key c<n> 1} on one of {@link
     * #MAP_COUNTER_FIELDS} counter fields, odd ones {@code HSET key r<client> value} on the
     * client's own string field (see {@link #mapField}).
     */
    MAP
  }

  /** Counter fields of the {@link Workload#MAP} workload. */
  static final int MAP_COUNTER_FIELDS = 2;

  /** True when request {@code requestId} of the map workload is an increment. */
  static boolean isMapIncrement(long requestId) {
    return requestId % 2 == 0;
  }

  /** The field request {@code requestId} of client {@code clientId} writes in the map workload. */
  static String mapField(long clientId, long requestId) {
    return isMapIncrement(requestId) ? "c" + (requestId / 2 % MAP_COUNTER_FIELDS) : "r" + clientId;
  }

  /** In {@link Workload#REGISTER_WITH_DELETES}, request ids with this remainder are deletes. */
  static final int DELETE_EVERY = 4;

  /** True when the request is a delete in {@link Workload#REGISTER_WITH_DELETES}. */
  static boolean isDelete(long requestId) {
    return requestId % DELETE_EVERY == DELETE_EVERY - 1;
  }

  /** Per-run state outside the replicas: client contexts and every node started. */
  static final class RunState {
    private final Map<String, VersionVector> contextByClientAndKey = new HashMap<>();
    private final Map<String, java.util.Set<String>> seenByClientAndKey = new HashMap<>();
    private final Map<String, java.util.Set<String>> coveredByDelete = new HashMap<>();
    private final List<LeaderlessNode> started = new ArrayList<>();
    private final Map<String, VersionVector> readContextByClientAndKey = new HashMap<>();
    private final List<String> monotonicReadViolations = new ArrayList<>();

    /** Forgets everything: a new run has new clients and nodes. */
    void clear() {
      readContextByClientAndKey.clear();
      monotonicReadViolations.clear();
      contextByClientAndKey.clear();
      seenByClientAndKey.clear();
      coveredByDelete.clear();
      started.clear();
    }

    /** The values a client had seen for the key when it sent delete {@code requestId}. */
    java.util.Set<String> coveredByDelete(long clientId, long requestId) {
      return coveredByDelete.getOrDefault(clientId + "/" + requestId, java.util.Set.of());
    }

    private void recordDelete(long clientId, long requestId, String key) {
      coveredByDelete.put(
          clientId + "/" + requestId,
          java.util.Set.copyOf(
              seenByClientAndKey.getOrDefault(clientId + "/" + key, java.util.Set.of())));
    }

    private void seeValues(long clientId, String key, List<String> values) {
      seenByClientAndKey
          .computeIfAbsent(clientId + "/" + key, k -> new java.util.TreeSet<>())
          .addAll(values);
    }

    VersionVector context(long clientId, String key) {
      return contextByClientAndKey.getOrDefault(clientId + "/" + key, VersionVector.EMPTY);
    }

    /**
     * Joins {@code context} into what the client has seen: a read that missed the client's own
     * earlier write (possible with sloppy quorums) must not make the client forget that write.
     */
    void see(long clientId, String key, VersionVector context) {
      contextByClientAndKey.merge(clientId + "/" + key, context, VersionVector::merge);
    }

    /**
     * Records an acknowledged read's causal context; a context that does not descend the join of
     * the client's earlier read contexts for the key is a monotonic-reads violation (the read
     * returned a state older than one the client had already read).
     */
    void observeRead(long clientId, long requestId, String key, VersionVector context) {
      String session = clientId + "/" + key;
      VersionVector before = readContextByClientAndKey.getOrDefault(session, VersionVector.EMPTY);
      if (!context.descends(before)) {
        monotonicReadViolations.add(
            "client "
                + clientId
                + " request "
                + requestId
                + " read "
                + key
                + " at "
                + context
                + ", older than its earlier reads' "
                + before);
      }
      readContextByClientAndKey.put(session, before.merge(context));
    }

    /** Monotonic-read violations recorded this run. */
    List<String> monotonicReadViolations() {
      return List.copyOf(monotonicReadViolations);
    }

    /** Deletes recorded this run, and how many of them covered at least one seen value. */
    long[] deleteCounts() {
      long covering = coveredByDelete.values().stream().filter(set -> !set.isEmpty()).count();
      return new long[] {coveredByDelete.size(), covering};
    }

    /** Tombstones held at the end of the run by the newest instance of each node. */
    long tombstonesHeldByNewestNodes() {
      Map<Integer, LeaderlessNode> newest = new TreeMap<>();
      started.forEach(node -> newest.put(node.nodeId(), node));
      return newest.values().stream().mapToLong(LeaderlessNode::tombstoneCount).sum();
    }

    /** Counters summed over every node instance of the run (crashed ones included). */
    Map<String, Long> counterTotals() {
      Map<String, Long> totals = new TreeMap<>();
      for (LeaderlessNode node : started) {
        node.counters().asMap().forEach((name, value) -> totals.merge(name, value, Long::sum));
      }
      return totals;
    }
  }

  private record InFlight(String key, boolean isWrite) {}

  private final LeaderlessNode node;
  private final RunState run;
  private final Workload workload;
  private final Map<String, InFlight> inFlight = new HashMap<>();
  private final List<ClientReply> replies = new ArrayList<>();
  private Ready nodeReady = Ready.EMPTY;

  LeaderlessSimReplica(LeaderlessNode node, RunState run, Workload workload) {
    this.node = node;
    this.run = run;
    this.workload = workload;
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
   * A factory whose replicas share {@code run} (clear it before each run) and read their clock
   * rounded down to {@code clockGranularityMillis} (1 for the simulator's clock as is; more models
   * coarse timestamps, which make equal HLC timestamps common).
   */
  static ReplicaFactory factory(
      Placement placement,
      LeaderlessConfig config,
      RunState run,
      Workload workload,
      long clockGranularityMillis) {
    Check.argument(clockGranularityMillis >= 1, "granularity %s", clockGranularityMillis);
    return context -> {
      PhysicalClock clock = context.clock();
      PhysicalClock coarse =
          () ->
              Math.max(0, clock.physicalMillis()) / clockGranularityMillis * clockGranularityMillis;
      return start(placement, config, run, workload, context.nodeId(), coarse, context.recovered());
    };
  }

  private static Replica start(
      Placement placement,
      LeaderlessConfig config,
      RunState run,
      Workload workload,
      int nodeId,
      PhysicalClock clock,
      List<PersistRecord> recovered) {
    LeaderlessNode node = new LeaderlessNode(nodeId, placement, config, clock, recovered);
    run.started.add(node);
    return new LeaderlessSimReplica(node, run, workload);
  }

  LeaderlessNode node() {
    return node;
  }

  @Override
  public void step(Message message) {
    switch (message) {
      case PeerMessage peer -> node.step(peer);
      case ClientRequest request -> onClientRequest(request);
    }
  }

  private void onClientRequest(ClientRequest request) {
    String key = request.operation().key();
    boolean isWrite = request.operation() instanceof Operation.Put;
    inFlight.put(request.clientId() + "/" + request.requestId(), new InFlight(key, isWrite));
    switch (request.operation()) {
      case Operation.Write opaque ->
          throw new IllegalArgumentException("the leaderless workloads send no opaque writes");
      case Operation.Get get ->
          node.submit(
              new KvRequest.Get(
                  request.clientId(), request.requestId(), key, KvRequest.DEFAULT_QUORUM));
      case Operation.Put put -> {
        Write write =
            switch (workload) {
              case REGISTER, BLIND_REGISTER -> new Write.Value(put.value());
              case REGISTER_WITH_DELETES, REGISTER_WITH_BLIND_DELETES ->
                  isDelete(request.requestId()) ? new Write.Delete() : new Write.Value(put.value());
              case SET -> new Write.SetAdd(put.value());
              case COUNTER -> new Write.Increment(1);
              case MAP ->
                  isMapIncrement(request.requestId())
                      ? new Write.HashIncrement(
                          mapField(request.clientId(), request.requestId()), 1)
                      : new Write.HashSet(
                          mapField(request.clientId(), request.requestId()), put.value());
            };
        VersionVector context =
            workload != Workload.BLIND_REGISTER
                ? run.context(request.clientId(), key)
                : VersionVector.EMPTY;
        boolean withDeletes =
            workload == Workload.REGISTER_WITH_DELETES
                || workload == Workload.REGISTER_WITH_BLIND_DELETES;
        if (withDeletes && isDelete(request.requestId())) {
          run.recordDelete(request.clientId(), request.requestId(), key);
        }
        if (workload == Workload.REGISTER_WITH_BLIND_DELETES && isDelete(request.requestId())) {
          context = VersionVector.EMPTY;
        }
        node.submit(
            new KvRequest.Put(
                request.clientId(),
                request.requestId(),
                key,
                write,
                context,
                KvRequest.DEFAULT_QUORUM));
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
        if (!request.isWrite()) {
          run.observeRead(result.clientId(), result.requestId(), request.key(), result.context());
        }
        run.see(result.clientId(), request.key(), result.context());
        run.seeValues(result.clientId(), request.key(), result.values());
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
