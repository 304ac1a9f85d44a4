package io.replicakv.core.leaderless;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.Replica;
import io.replicakv.core.causal.ClockDriftException;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.HybridLogicalClock;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One node of a leaderless (Dynamo-style) keyspace: replica of the partitions it owns, substitute
 * for unreachable owners, and coordinator of any client request it receives (DeCandia et al.,
 * "Dynamo: Amazon's Highly Available Key-value Store", SOSP 2007, §4.5-§4.7; DDIA ch. 5,
 * "Leaderless Replication"; Riak KV's put/get FSMs).
 *
 * <p><b>Write path.</b> The coordinator picks the key's targets: the N owners of its partition, or
 * with a sloppy quorum the first N reachable nodes in ring order, each substitute carrying a hint
 * naming the owner it stands in for. If fewer than W targets are reachable it answers {@link
 * KvResult.Outcome#NOT_ENOUGH_REPLICAS} at once, having sent nothing. Otherwise one reachable owner
 * (itself if it is one) <i>creates the version</i>: it applies the write to its own state for the
 * key with the client's causal context (a fresh dot of its own in siblings mode, its HLC timestamp
 * in LWW mode), syncs it, and returns the resulting state, which the coordinator sends to every
 * other target to merge. W durable acknowledgements make the write OK. Versions are only created at
 * a replica of the key, so a dot {@code (node, n)} names one value everywhere.
 *
 * <p><b>Read path.</b> The coordinator asks every target and answers after R replies with the
 * causal merge of what they returned (all siblings, tombstones hidden) and its context. Read repair
 * sends the merged state to each answering replica whose state differs, in the background, or
 * before answering when {@link LeaderlessConfig#blockingReadRepair()} is set. Late replies are
 * compared and repaired too.
 *
 * <p><b>Hinted handoff.</b> A substitute keeps hints apart from its own data, persisted, at most
 * {@link LeaderlessConfig#hintsPerPeerMax()} keys per owner; past that it refuses new keys, so the
 * write may fall short of W rather than the substitute running out of memory. When the owner
 * answers pings again, hints go to it in batches; the owner merges and syncs them and acknowledges
 * each state's digest; the substitute drops the hints still at that digest.
 *
 * <p><b>Anti-entropy.</b> Every {@link LeaderlessConfig#antiEntropyIntervalTicks()} a node picks
 * one of its partitions and another owner of it (round robin) and sends its Merkle root. The peers
 * descend only into differing branches, one level per message, then list key digests in the
 * differing leaves, then ship the states of exactly the differing keys both ways and merge them.
 * The exchange is stateless (each message carries what the next step needs), so a lost message only
 * ends that exchange; the next interval starts another.
 *
 * <p><b>Durability.</b> A replica syncs a state before it acknowledges it (a created version, a
 * replicate, a handoff); merges that back no promise (read repair, anti-entropy) are persisted
 * without sync and re-done by anti-entropy if a crash loses them. Request ids carry an incarnation
 * number that is persisted and synced at start, so an answer meant for a request of an earlier
 * incarnation can never be counted for a new one.
 *
 * <p>Only an owner creates versions, never a substitute: a substitute's hints are dropped after
 * handoff, so a counter kept with them could be reused and one dot would name two values. A write
 * therefore needs at least one reachable owner even with a sloppy quorum; substitutes make up the
 * rest of W.
 *
 * <p><b>What it survives.</b> Loss, duplication and reordering of any message (everything is
 * idempotent merges keyed by request id); crashes losing unsynced records; partitions (with strict
 * quorums requests fail or time out, with sloppy quorums writes go to substitutes); clock skew
 * (siblings mode uses no clock; LWW uses an HLC that also advances on every state it merges).
 * <b>What it does not.</b> Sloppy quorums give up R+W>N overlap by design: a read may miss a write
 * held only in hints until handoff or anti-entropy. Tombstones are collected by {@link
 * TombstoneCollector} (confirmation rounds spaced by a grace period, and a persisted dot floor so
 * that a node that forgot a key never reuses one of its dots); a message delayed past the grace
 * period could still bring a deleted value back, and CRDT keys keep their tombstones. The ring is
 * fixed for the node's lifetime; membership changes need a new node object. A request's W
 * acknowledgements may include the same write recorded under a hint and later under the owner; that
 * is Dynamo's sloppy-quorum contract, not strict durability on W owners.
 */
public final class LeaderlessNode implements Replica {
  /** Hinted states one handoff message carries. */
  public static final int HANDOFF_BATCH_KEYS_MAX = 256;

  /** Requests one node coordinates at once; past it new requests are refused. */
  public static final int PENDING_REQUESTS_MAX = 100_000;

  /** Results waiting for {@link #takeResults()}; a caller that never drains is a bug. */
  public static final int PENDING_RESULTS_MAX = 1_000_000;

  private static final int RECORD_INCARNATION = 1;
  private static final int RECORD_KEY = 2;
  private static final int RECORD_HINT = 3;
  private static final int RECORD_HINT_DROP = 4;
  private static final int RECORD_CREATED = 5;
  private static final int RECORD_TOMBSTONE_DROP = 6;

  /**
   * Versions this node remembers having created per coordinator request, so that a duplicated
   * {@code CoordinatePut} is answered with the same version instead of creating a second one (two
   * dots for one write would be two siblings of one value). Persisted with the version, so the
   * memory survives a restart; past this many the oldest are forgotten, which only matters for a
   * duplicate delayed by that many later writes.
   */
  public static final int CREATED_REQUESTS_REMEMBERED = 10_000;

  /** A target of one request: the node and the owner it substitutes for, or NO_HINT. */
  record Target(int node, int hintFor) {}

  private abstract static class Pending {
    final long requestId;
    final long clientId;
    final long clientRequestId;
    final String key;
    final List<Target> targets;
    final int quorum;
    final long deadlineTick;
    final boolean plainClient;

    Pending(
        long requestId,
        KvRequest request,
        List<Target> targets,
        int quorum,
        long deadlineTick,
        boolean plainClient) {
      this.requestId = requestId;
      this.clientId = request.clientId();
      this.clientRequestId = request.requestId();
      this.key = request.key();
      this.targets = targets;
      this.quorum = quorum;
      this.deadlineTick = deadlineTick;
      this.plainClient = plainClient;
    }

    Target targetOf(int node) {
      for (Target target : targets) {
        if (target.node() == node) {
          return target;
        }
      }
      return null;
    }
  }

  private static final class PendingPut extends Pending {
    final Write write;
    final VersionVector context;
    final int creator;
    final Set<Integer> acked = new TreeSet<>();
    final Set<Integer> refused = new TreeSet<>();
    KeyState created;

    /**
     * What the client is answered: the created state merged with every state an acknowledging owner
     * returned (crdt keyspaces), so a counter reply counts every increment any of the W
     * acknowledging replicas had merged, not only what the creator had seen.
     */
    KeyState answer;

    PendingPut(
        long requestId,
        KvRequest.Put put,
        List<Target> targets,
        int quorum,
        long deadline,
        boolean plain,
        int creator) {
      super(requestId, put, targets, quorum, deadline, plain);
      this.write = put.write();
      this.context = put.context();
      this.creator = creator;
    }
  }

  private static final class PendingGet extends Pending {
    final Map<Integer, KeyState> answers = new TreeMap<>();
    final Set<Integer> answered = new TreeSet<>();
    final Set<Integer> awaitingRepair = new TreeSet<>();
    KeyState merged;
    boolean quorumReached;
    boolean replied;

    PendingGet(
        long requestId,
        KvRequest.Get get,
        List<Target> targets,
        int quorum,
        long deadline,
        boolean plain) {
      super(requestId, get, targets, quorum, deadline, plain);
    }
  }

  private final int nodeId;
  private final String replicaId;
  private final List<Integer> peers;
  private final Placement placement;
  private final LeaderlessConfig config;
  private final PhysicalClock clock;
  private final HybridLogicalClock hlc;
  private final LeaderlessStore store;
  private final ReadyBuffer out = new ReadyBuffer();
  private final List<KvResult> results = new ArrayList<>();
  private final Map<Long, Pending> pending = new TreeMap<>();
  private final Map<Integer, Long> lastHeardTick = new HashMap<>();
  private final LeaderlessCounters counters = new LeaderlessCounters();
  private final Map<String, KeyState> createdByRequest =
      new java.util.LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, KeyState> eldest) {
          return size() > CREATED_REQUESTS_REMEMBERED;
        }
      };
  private final AntiEntropy antiEntropy;
  private final TombstoneCollector tombstones;
  private final long incarnation;

  /** Highest own dot counter of any collected tombstone; new versions are numbered above it. */
  private long ownDotFloor;

  /** Highest stamp of any collected LWW tombstone; the HLC restarts at or above it. */
  private Hlc stampFloor = Hlc.ZERO;

  private long nextRequestSequence;
  private long ticks;

  /**
   * A node of {@code ring} (whose node ids are decimal integers) restarting from {@code recovered},
   * the records its disk kept, in order.
   */
  public LeaderlessNode(
      int nodeId,
      Ring ring,
      LeaderlessConfig config,
      PhysicalClock clock,
      List<PersistRecord> recovered) {
    this(nodeId, new Placement(ring, config.replicas()), config, clock, recovered);
  }

  /**
   * As above with a placement already computed (it is immutable and may be shared). {@code nodeId}
   * need not be in it: such a node owns no partition (a member leaving the cluster) and still
   * coordinates requests and hands off the hints it holds.
   */
  public LeaderlessNode(
      int nodeId,
      Placement placement,
      LeaderlessConfig config,
      PhysicalClock clock,
      List<PersistRecord> recovered) {
    Check.argument(
        placement.replicas() == config.replicas(),
        "placement for N=%s, config N=%s",
        placement.replicas(),
        config.replicas());
    this.nodeId = nodeId;
    this.replicaId = Integer.toString(nodeId);
    this.placement = placement;
    this.config = config;
    this.clock = Check.notNull(clock, "clock");
    this.store = new LeaderlessStore(placement, config);
    TreeSet<Integer> all = new TreeSet<>();
    for (int p = 0; p < placement.partitionCount(); p++) {
      all.addAll(placement.ringOrder(p));
    }
    // A node outside the ring is a departing node (decommissioned): it owns nothing, coordinates
    // requests for clients still connected to it, and hands off what it held as hints; every ring
    // node is its peer.
    Check.argument(nodeId >= 0, "node id %s < 0", nodeId);
    all.remove(nodeId);
    this.peers = List.copyOf(all);
    this.antiEntropy =
        new AntiEntropy(
            nodeId,
            placement,
            store,
            counters,
            out,
            this::suspects,
            this::observeStamp,
            (key, state) -> persistKey(key, state, false));
    this.tombstones =
        new TombstoneCollector(
            nodeId, placement, config, store, counters, out, new CollectorHost());
    long lastIncarnation = 0;
    Hlc newest = Hlc.ZERO;
    for (PersistRecord record : recovered) {
      long replayed = replay(record);
      lastIncarnation = Math.max(lastIncarnation, replayed);
    }
    for (KeyState state : store.snapshot().values()) {
      newest = Hlc.max(newest, newestStamp(state));
    }
    newest = Hlc.max(newest, stampFloor);
    this.hlc = new HybridLogicalClock(newest, HybridLogicalClock.DEFAULT_MAX_REMOTE_AHEAD_MILLIS);
    this.incarnation = lastIncarnation + 1;
    Check.state(incarnation < (1L << 31), "incarnation %s overflows request ids", incarnation);
    out.persist(
        new PersistRecord(
            new ByteWriter().writeByte(RECORD_INCARNATION).writeVarLong(incarnation).toByteArray()),
        true);
  }

  // ---------------------------------------------------------------- Replica contract

  @Override
  public void step(Message message) {
    switch (message) {
      case ClientRequest request -> onPlainClientRequest(request);
      case PeerMessage peer -> onPeerMessage(peer);
    }
  }

  @Override
  public void tick() {
    ticks++;
    if (ticks % config.pingIntervalTicks() == 0) {
      for (int peer : peers) {
        out.send(new LeaderlessMessage.Ping(nodeId, peer));
      }
    }
    expireRequests();
    if (ticks % config.handoffIntervalTicks() == 0) {
      handOffHints();
    }
    int interval = config.antiEntropyIntervalTicks();
    if (interval > 0 && (ticks + nodeId) % interval == 0) {
      antiEntropy.start();
    }
    tombstones.tick();
    counters.tombstonesHeld = store.tombstoneKeys().size();
  }

  @Override
  public Ready ready() {
    return out.ready();
  }

  @Override
  public void advance(Ready done) {
    out.advance(done);
  }

  // ---------------------------------------------------------------- public API

  /** Starts coordinating {@code request}; its outcome appears in {@link #takeResults()}. */
  public void submit(KvRequest request) {
    coordinate(request, false);
  }

  /** Outcomes of submitted requests finished since the last call, in finishing order. */
  public List<KvResult> takeResults() {
    List<KvResult> taken = List.copyOf(results);
    results.clear();
    return taken;
  }

  /** This node's id. */
  public int nodeId() {
    return nodeId;
  }

  /** Where keys live. */
  public Placement placement() {
    return placement;
  }

  /** What this node has counted. */
  public LeaderlessCounters counters() {
    return counters;
  }

  /** The values a read of {@code key} at this replica alone would show (tombstones hidden). */
  public List<String> localValues(String key) {
    KeyState state = store.get(key);
    return state == null ? List.of() : state.visibleValues();
  }

  /** Every owned key with a visible value, to its sorted visible values. */
  public SortedMap<String, List<String>> visibleState() {
    TreeMap<String, List<String>> view = new TreeMap<>();
    store
        .snapshot()
        .forEach(
            (key, state) -> {
              List<String> values = state.visibleValues();
              if (!values.isEmpty()) {
                view.put(key, values);
              }
            });
    return view;
  }

  /** The number of values (siblings and tombstones) this replica holds for {@code key}. */
  public int valueCount(String key) {
    KeyState state = store.get(key);
    return state == null ? 0 : state.valueCount();
  }

  /** The partition's Merkle root at this node (0 when it holds nothing there). */
  public long merkleRoot(int partition) {
    return store.tree(partition).root();
  }

  /**
   * Rechecks what the node maintains incrementally: every partition's Merkle tree equals a tree
   * rebuilt from the keys' digests as cached at their last change, and hints stay within their
   * bound. Empty when all holds; meant for simulators and tests (it costs a pass over the keys).
   * Whether a cached digest matches its state is checked by {@link #verifyDigests()}, which
   * serialises every state and so costs more.
   */
  public java.util.Optional<String> verifyInvariants() {
    Map<Integer, MerkleTree> rebuilt = new TreeMap<>();
    store
        .snapshot()
        .forEach(
            (key, state) ->
                rebuilt
                    .computeIfAbsent(
                        placement.partitionOf(key),
                        p -> new MerkleTree(config.merkleFanOut(), config.merkleDepth()))
                    .update(key, false, 0, true, store.digest(key)));
    for (int partition = 0; partition < placement.partitionCount(); partition++) {
      MerkleTree fresh = rebuilt.get(partition);
      long expected = fresh == null ? 0 : fresh.root();
      if (store.tree(partition).root() != expected) {
        return java.util.Optional.of(
            "n" + nodeId + " partition " + partition + " tree root differs from a rebuilt tree");
      }
    }
    for (int owner : store.hintedOwners()) {
      if (store.hintsFor(owner).size() > config.hintsPerPeerMax()) {
        return java.util.Optional.of(
            "n" + nodeId + " holds " + store.hintsFor(owner).size() + " hints for " + owner);
      }
    }
    return java.util.Optional.empty();
  }

  /** Empty when every cached state digest equals the digest of the state it stands for. */
  public java.util.Optional<String> verifyDigests() {
    for (Map.Entry<String, KeyState> entry : store.snapshot().entrySet()) {
      if (entry.getValue().digest() != store.digest(entry.getKey())) {
        return java.util.Optional.of("n" + nodeId + " stale digest for " + entry.getKey());
      }
    }
    return java.util.Optional.empty();
  }

  /** Tombstones (owned keys showing only deletes) this node holds now. */
  public int tombstoneCount() {
    return store.tombstoneKeys().size();
  }

  /** Highest own dot counter among the tombstones this node has collected (0 when none). */
  public long ownDotFloor() {
    return ownDotFloor;
  }

  /** Hints this node holds for unreachable owners. */
  public int hintCount() {
    return store.hintCount();
  }

  /** True while {@code peer} has been silent longer than the suspicion timeout. */
  public boolean suspects(int peer) {
    if (peer == nodeId) {
      return false;
    }
    return ticks - lastHeardTick.getOrDefault(peer, 0L) > config.suspectAfterTicks();
  }

  // ---------------------------------------------------------------- coordinator

  private void onPlainClientRequest(ClientRequest request) {
    KvRequest kv =
        switch (request.operation()) {
          case Operation.Get get ->
              new KvRequest.Get(
                  request.clientId(), request.requestId(), get.key(), KvRequest.DEFAULT_QUORUM);
          case Operation.Put put ->
              new KvRequest.Put(
                  request.clientId(),
                  request.requestId(),
                  put.key(),
                  new Write.Value(put.value()),
                  VersionVector.EMPTY,
                  KvRequest.DEFAULT_QUORUM);
          case Operation.Write write ->
              throw new IllegalArgumentException(
                  "opaque single-leader write for " + write.key() + " sent to a leaderless node");
        };
    coordinate(kv, true);
  }

  private void coordinate(KvRequest request, boolean plainClient) {
    boolean isWrite = request instanceof KvRequest.Put;
    int requested =
        switch (request) {
          case KvRequest.Get get -> get.readQuorum();
          case KvRequest.Put put -> put.writeQuorum();
        };
    int quorum =
        requested != KvRequest.DEFAULT_QUORUM
            ? requested
            : isWrite ? config.writeQuorum() : config.readQuorum();
    if (quorum > config.replicas()) {
      finish(
          request,
          plainClient,
          isWrite,
          KvResult.Outcome.REFUSED,
          null,
          0,
          quorum,
          "quorum " + quorum + " over N=" + config.replicas());
      return;
    }
    if (request instanceof KvRequest.Put put) {
      var refusal = put.write().refusal(config.conflicts(), null);
      if (refusal.isPresent()) {
        finish(
            request, plainClient, true, KvResult.Outcome.REFUSED, null, 0, quorum, refusal.get());
        return;
      }
    }
    if (pending.size() >= PENDING_REQUESTS_MAX) {
      finish(
          request,
          plainClient,
          isWrite,
          KvResult.Outcome.REFUSED,
          null,
          0,
          quorum,
          "coordinator busy: " + PENDING_REQUESTS_MAX + " requests in flight");
      return;
    }
    List<Target> targets = targets(placement.partitionOf(request.key()));
    int reachable = (int) targets.stream().filter(t -> !suspects(t.node())).count();
    if (reachable < quorum) {
      counters.notEnoughReplicas++;
      finish(
          request,
          plainClient,
          isWrite,
          KvResult.Outcome.NOT_ENOUGH_REPLICAS,
          null,
          reachable,
          quorum,
          "not enough replicas: "
              + reachable
              + " of "
              + config.replicas()
              + " reachable, "
              + quorum
              + " needed");
      return;
    }
    long requestId = (incarnation << 32) | nextRequestSequence++;
    long deadline = ticks + config.requestTimeoutTicks();
    switch (request) {
      case KvRequest.Put put -> startPut(requestId, put, targets, quorum, deadline, plainClient);
      case KvRequest.Get get -> startGet(requestId, get, targets, quorum, deadline, plainClient);
    }
  }

  /**
   * The request's targets: the owners, or with a sloppy quorum each suspected owner replaced by the
   * next unsuspected node in ring order past the owners.
   */
  List<Target> targets(int partition) {
    List<Integer> owners = placement.owners(partition);
    List<Target> targets = new ArrayList<>();
    if (!config.sloppyQuorum()) {
      owners.forEach(owner -> targets.add(new Target(owner, LeaderlessMessage.NO_HINT)));
      return targets;
    }
    List<Integer> order = placement.ringOrder(partition);
    int next = owners.size();
    for (int owner : owners) {
      if (!suspects(owner)) {
        targets.add(new Target(owner, LeaderlessMessage.NO_HINT));
        continue;
      }
      while (next < order.size() && suspects(order.get(next))) {
        next++;
      }
      if (next < order.size()) {
        targets.add(new Target(order.get(next++), owner));
      }
    }
    return targets;
  }

  private void startPut(
      long requestId,
      KvRequest.Put put,
      List<Target> targets,
      int quorum,
      long deadline,
      boolean plain) {
    Target creator = null;
    for (Target target : targets) {
      boolean owner = target.hintFor() == LeaderlessMessage.NO_HINT;
      if (owner && target.node() == nodeId) {
        creator = target;
        break;
      }
      if (owner && creator == null && !suspects(target.node())) {
        creator = target;
      }
    }
    if (creator == null) {
      counters.notEnoughReplicas++;
      finish(
          put,
          plain,
          true,
          KvResult.Outcome.NOT_ENOUGH_REPLICAS,
          null,
          0,
          quorum,
          "no owner of the key reachable to create the version (substitutes only hold copies)");
      return;
    }
    PendingPut request =
        new PendingPut(requestId, put, targets, quorum, deadline, plain, creator.node());
    pending.put(requestId, request);
    if (creator.node() == nodeId) {
      CreateOutcome created = createVersion(put.key(), put.write(), put.context(), null);
      onCreated(request, nodeId, created.state(), created.refusal());
    } else {
      out.send(
          new LeaderlessMessage.CoordinatePut(
              nodeId, creator.node(), requestId, put.key(), put.write().encode(), put.context()));
    }
  }

  private void onCreated(PendingPut request, int from, KeyState state, String refusal) {
    if (request.created != null || from != request.creator) {
      return;
    }
    if (refusal != null) {
      counters.writesRefused++;
      pending.remove(request.requestId);
      finishPending(request, KvResult.Outcome.REFUSED, null, 0, refusal);
      return;
    }
    request.created = state;
    request.answer = state;
    request.acked.add(from);
    Bytes encoded = state.encoded();
    for (Target target : request.targets) {
      if (target.node() != from) {
        if (target.node() == nodeId) {
          boolean accepted = applyReplicate(request.key, state, target.hintFor(), true);
          onReplicateAck(
              request.requestId,
              nodeId,
              accepted,
              mergedForAck(request.key, state, target.hintFor(), accepted));
        } else {
          out.send(
              new LeaderlessMessage.Replicate(
                  nodeId,
                  target.node(),
                  request.requestId,
                  request.key,
                  encoded,
                  target.hintFor()));
        }
      }
    }
    maybeFinishPut(request);
  }

  private void onReplicateAck(long requestId, int from, boolean accepted, KeyState merged) {
    Pending request = pending.get(requestId);
    if (request == null || request.targetOf(from) == null) {
      return;
    }
    switch (request) {
      case PendingPut put -> {
        if (accepted && merged != null && put.answer != null && !put.acked.contains(from)) {
          put.answer = mergeAll(put.answer, merged);
        }
        (accepted ? put.acked : put.refused).add(from);
        maybeFinishPut(put);
      }
      case PendingGet get -> {
        get.awaitingRepair.remove(from);
        maybeAnswerGet(get);
      }
      default -> throw new IllegalStateException("unknown pending " + request);
    }
  }

  private void maybeFinishPut(PendingPut put) {
    if (put.created == null || !pending.containsKey(put.requestId)) {
      return;
    }
    if (put.acked.size() >= put.quorum) {
      pending.remove(put.requestId);
      counters.writesOk++;
      finishPending(put, KvResult.Outcome.OK, put.answer, put.acked.size(), "ok");
    } else if (put.acked.size() + (put.targets.size() - put.acked.size() - put.refused.size())
        < put.quorum) {
      pending.remove(put.requestId);
      finishPending(
          put,
          KvResult.Outcome.TIMEOUT,
          null,
          put.acked.size(),
          "written at "
              + put.acked.size()
              + " of "
              + put.quorum
              + " needed replicas, "
              + put.refused.size()
              + " refused (hint store full); the write may survive");
    }
  }

  private void startGet(
      long requestId,
      KvRequest.Get get,
      List<Target> targets,
      int quorum,
      long deadline,
      boolean plain) {
    PendingGet request = new PendingGet(requestId, get, targets, quorum, deadline, plain);
    pending.put(requestId, request);
    for (Target target : targets) {
      if (target.node() == nodeId) {
        onReadReply(request, nodeId, readLocal(get.key(), target.hintFor()));
      } else {
        out.send(
            new LeaderlessMessage.Read(
                nodeId, target.node(), requestId, get.key(), target.hintFor()));
      }
    }
  }

  private void onReadReply(PendingGet get, int from, KeyState state) {
    Target target = get.targetOf(from);
    if (target == null || !get.answered.add(from)) {
      return;
    }
    if (state != null) {
      get.answers.put(from, state);
    }
    if (!get.quorumReached && get.answered.size() >= get.quorum) {
      get.quorumReached = true;
      get.merged = get.answers.values().stream().reduce(null, this::mergeAll);
      repairStale(get, get.answered);
    } else if (get.quorumReached) {
      KeyState before = get.merged;
      get.merged = mergeAll(get.merged, state);
      boolean grew = before == null ? get.merged != null : !before.equals(get.merged);
      repairStale(get, grew ? get.answered : Set.of(from));
    }
    maybeAnswerGet(get);
    if (get.replied && get.answered.size() == get.targets.size()) {
      pending.remove(get.requestId);
    }
  }

  private KeyState mergeAll(KeyState a, KeyState b) {
    if (a == null) {
      return b;
    }
    return b == null ? a : a.merge(b, config.lwwTieBreak()).state();
  }

  private void repairStale(PendingGet get, Set<Integer> nodes) {
    if (!config.readRepair() || get.merged == null) {
      return;
    }
    boolean blocking = config.blockingReadRepair() && !get.replied;
    Bytes encoded = get.merged.encoded();
    for (int node : nodes) {
      KeyState seen = get.answers.get(node);
      if (get.merged.equals(seen)) {
        continue;
      }
      get.answers.put(node, get.merged);
      counters.readRepairsSent++;
      Target target = get.targetOf(node);
      if (node == nodeId) {
        applyReplicate(get.key, get.merged, target.hintFor(), blocking);
        continue;
      }
      if (blocking) {
        get.awaitingRepair.add(node);
      }
      out.send(
          new LeaderlessMessage.Replicate(
              nodeId,
              node,
              blocking ? get.requestId : LeaderlessMessage.NO_ACK,
              get.key,
              encoded,
              target.hintFor()));
    }
  }

  private void maybeAnswerGet(PendingGet get) {
    if (get.replied || get.answered.size() < get.quorum || !get.awaitingRepair.isEmpty()) {
      return;
    }
    get.replied = true;
    counters.readsOk++;
    finishPending(get, KvResult.Outcome.OK, get.merged, get.answered.size(), "ok");
  }

  private void expireRequests() {
    Iterator<Pending> it = pending.values().iterator();
    while (it.hasNext()) {
      Pending request = it.next();
      if (request.deadlineTick > ticks) {
        continue;
      }
      it.remove();
      if (request instanceof PendingGet get && get.replied) {
        continue;
      }
      counters.timeouts++;
      String detail =
          switch (request) {
            case PendingPut put ->
                "timed out after "
                    + put.acked.size()
                    + " of "
                    + put.quorum
                    + " acknowledgements; the write may have been applied";
            case PendingGet get ->
                "timed out after " + get.answered.size() + " of " + get.quorum + " answers";
            default -> throw new IllegalStateException("unknown pending " + request);
          };
      int answered =
          request instanceof PendingPut put
              ? put.acked.size()
              : ((PendingGet) request).answered.size();
      finishPending(request, KvResult.Outcome.TIMEOUT, null, answered, detail);
    }
  }

  private void finishPending(
      Pending request, KvResult.Outcome outcome, KeyState state, int answered, String detail) {
    KvResult result =
        new KvResult(
            request.clientId,
            request.clientRequestId,
            outcome,
            state == null ? List.of() : state.visibleValues(),
            state == null ? VersionVector.EMPTY : state.context(),
            answered,
            request.quorum,
            detail,
            state == null ? "" : state.typeName());
    deliver(result, request.plainClient, request instanceof PendingPut);
  }

  private void finish(
      KvRequest request,
      boolean plainClient,
      boolean isWrite,
      KvResult.Outcome outcome,
      KeyState state,
      int answered,
      int needed,
      String detail) {
    KvResult result =
        new KvResult(
            request.clientId(),
            request.requestId(),
            outcome,
            state == null ? List.of() : state.visibleValues(),
            state == null ? VersionVector.EMPTY : state.context(),
            answered,
            needed,
            detail,
            state == null ? "" : state.typeName());
    deliver(result, plainClient, isWrite);
  }

  private void deliver(KvResult result, boolean plainClient, boolean isWrite) {
    if (plainClient) {
      out.reply(new ClientReply(result.clientId(), result.requestId(), result.toReply(isWrite)));
    } else {
      Check.state(results.size() < PENDING_RESULTS_MAX, "%s results not taken", results.size());
      results.add(result);
    }
  }

  // ---------------------------------------------------------------- replica side

  private void onPeerMessage(PeerMessage message) {
    Check.argument(message.to() == nodeId, "message for %s delivered to %s", message.to(), nodeId);
    if (!(message instanceof LeaderlessMessage leaderless)) {
      throw new IllegalArgumentException("not a leaderless message: " + message);
    }
    Check.argument(message.from() != nodeId, "message from self: %s", message);
    lastHeardTick.put(message.from(), ticks);
    switch (leaderless) {
      case LeaderlessMessage.Ping ping -> out.send(new LeaderlessMessage.Pong(nodeId, ping.from()));
      case LeaderlessMessage.Pong pong -> {}
      case LeaderlessMessage.CoordinatePut put -> onCoordinatePut(put);
      case LeaderlessMessage.CoordinatePutAck ack -> {
        if (pending.get(ack.requestId()) instanceof PendingPut put) {
          KeyState state = ack.state() == null ? null : KeyState.decode(ack.state());
          if (state != null) {
            observeStamp(state);
          }
          onCreated(put, ack.from(), state, ack.refusal());
        }
      }
      case LeaderlessMessage.Replicate replicate -> onReplicate(replicate);
      case LeaderlessMessage.ReplicateAck ack ->
          onReplicateAck(
              ack.requestId(),
              ack.from(),
              ack.accepted(),
              ack.merged() == null ? null : KeyState.decode(ack.merged()));
      case LeaderlessMessage.Read read ->
          out.send(
              new LeaderlessMessage.ReadReply(
                  nodeId,
                  read.from(),
                  read.requestId(),
                  read.key(),
                  encodeOrNull(readLocal(read.key(), read.hintFor()))));
      case LeaderlessMessage.ReadReply reply -> {
        if (pending.get(reply.requestId()) instanceof PendingGet get
            && get.key.equals(reply.key())) {
          KeyState state = reply.state() == null ? null : KeyState.decode(reply.state());
          if (state != null) {
            observeStamp(state);
          }
          onReadReply(get, reply.from(), state);
        }
      }
      case LeaderlessMessage.TreeLevel level -> antiEntropy.onTreeLevel(level);
      case LeaderlessMessage.KeyDigests digests -> antiEntropy.onKeyDigests(digests);
      case LeaderlessMessage.KeyStates states -> antiEntropy.onKeyStates(states);
      case LeaderlessMessage.Handoff handoff -> onHandoff(handoff);
      case LeaderlessMessage.HandoffAck ack -> onHandoffAck(ack);
      case LeaderlessMessage.TombstoneCheck check -> tombstones.onCheck(check);
      case LeaderlessMessage.TombstoneCheckAck ack -> tombstones.onCheckAck(ack);
      case LeaderlessMessage.TombstoneDrop drop -> tombstones.onDrop(drop);
    }
  }

  private static Bytes encodeOrNull(KeyState state) {
    return state == null ? null : state.encoded();
  }

  private KeyState readLocal(String key, int hintFor) {
    return hintFor == LeaderlessMessage.NO_HINT ? store.get(key) : store.hint(hintFor, key);
  }

  private void onCoordinatePut(LeaderlessMessage.CoordinatePut put) {
    String request = put.from() + "/" + put.requestId();
    KeyState already = createdByRequest.get(request);
    CreateOutcome created =
        already != null
            ? new CreateOutcome(already, null)
            : createVersion(put.key(), Write.decode(put.write()), put.context(), request);
    out.send(
        new LeaderlessMessage.CoordinatePutAck(
            nodeId,
            put.from(),
            put.requestId(),
            put.key(),
            created.state() == null ? null : created.state().encoded(),
            created.refusal()));
  }

  private record CreateOutcome(KeyState state, String refusal) {}

  /** Creates the write's version here, durably; the state or why it was refused. */
  private CreateOutcome createVersion(
      String key, Write write, VersionVector context, String request) {
    if (!placement.owns(nodeId, placement.partitionOf(key))) {
      return new CreateOutcome(null, "node " + nodeId + " does not own " + key);
    }
    KeyState current = store.get(key);
    var refusal = write.refusal(config.conflicts(), current);
    if (refusal.isPresent()) {
      return new CreateOutcome(null, refusal.get());
    }
    Hlc stamp =
        config.conflicts() == ConflictMode.SIBLINGS ? Hlc.ZERO : hlc.now(clock.physicalMillis());
    KeyState created =
        write.apply(config.conflicts(), aboveDotFloor(current), context, replicaId, stamp);
    if (config.conflicts() == ConflictMode.SIBLINGS
        && created.valueCount() > config.siblingsMax()) {
      counters.siblingLimitRefusals++;
      return new CreateOutcome(
          null,
          "too many siblings: "
              + created.valueCount()
              + " over "
              + config.siblingsMax()
              + "; read the key and write with its context to resolve them");
    }
    KeyState result = created;
    if (config.conflicts() == ConflictMode.LWW && current != null) {
      LeaderlessStore.MergeOutcome merged = store.merge(key, created);
      counters.lwwWritesDiscarded += merged.discardedWrites();
      result = merged.state();
      persistKey(key, result, true);
    } else {
      store.put(key, created);
      persistKey(key, created, true);
    }
    if (request != null) {
      createdByRequest.put(request, result);
      out.persist(
          new PersistRecord(
              new ByteWriter()
                  .writeByte(RECORD_CREATED)
                  .writeString(request)
                  .writeBytes(result.toBytes())
                  .toByteArray()),
          true);
    }
    return new CreateOutcome(result, null);
  }

  /**
   * The state a new version builds on: in siblings mode, when this node holds no live value of its
   * own for the key, its counter is first raised to the dot floor, so that the new dot is above
   * every dot it numbered for a key it has since collected (TombstoneCollector, "dot counter").
   * Only own tombstones can be covered by that raise, and they show nothing.
   */
  private KeyState aboveDotFloor(KeyState current) {
    if (ownDotFloor == 0 || config.conflicts() != ConflictMode.SIBLINGS) {
      return current;
    }
    io.replicakv.core.causal.DvvSet set =
        current == null
            ? io.replicakv.core.causal.DvvSet.EMPTY
            : ((KeyState.Siblings) current).set();
    if (set.context().get(replicaId) >= ownDotFloor) {
      return current;
    }
    for (Map.Entry<io.replicakv.core.causal.Dot, Bytes> value : set.dottedValues().entrySet()) {
      if (value.getKey().replicaId().equals(replicaId)
          && value.getValue().byteAt(0) != KeyState.TOMBSTONE_TAG) {
        return current;
      }
    }
    return new KeyState.Siblings(
        set.discard(VersionVector.of(java.util.Map.of(replicaId, ownDotFloor))));
  }

  private void onReplicate(LeaderlessMessage.Replicate replicate) {
    KeyState state = KeyState.decode(replicate.state());
    observeStamp(state);
    boolean wantsAck = replicate.requestId() != LeaderlessMessage.NO_ACK;
    boolean accepted = applyReplicate(replicate.key(), state, replicate.hintFor(), wantsAck);
    if (wantsAck) {
      KeyState merged = mergedForAck(replicate.key(), state, replicate.hintFor(), accepted);
      out.send(
          new LeaderlessMessage.ReplicateAck(
              nodeId,
              replicate.from(),
              replicate.requestId(),
              accepted,
              merged == null ? null : merged.encoded()));
    }
  }

  /**
   * The state an acknowledging owner returns with its ack (see {@link
   * LeaderlessMessage.ReplicateAck}): its merged state for {@code key} when this is a crdt keyspace
   * and that differs from {@code sent}, else null. A hint is a copy for another owner, not this
   * node's view of the key, so it returns nothing.
   */
  private KeyState mergedForAck(String key, KeyState sent, int hintFor, boolean accepted) {
    if (!accepted
        || hintFor != LeaderlessMessage.NO_HINT
        || config.conflicts() != ConflictMode.CRDT) {
      return null;
    }
    KeyState merged = store.get(key);
    return merged == null || merged.equals(sent) ? null : merged;
  }

  /** Merges a replicated state; when {@code durable}, it is synced before any answer leaves. */
  private boolean applyReplicate(String key, KeyState state, int hintFor, boolean durable) {
    if (hintFor != LeaderlessMessage.NO_HINT) {
      if (!store.mergeHint(hintFor, key, state)) {
        counters.hintsRefused++;
        return false;
      }
      counters.hintsStored++;
      persistHint(hintFor, key, store.hint(hintFor, key), durable);
      return true;
    }
    LeaderlessStore.MergeOutcome merged = store.merge(key, state);
    counters.lwwWritesDiscarded += merged.discardedWrites();
    if (merged.changed() || durable) {
      persistKey(key, merged.state(), durable);
    }
    return true;
  }

  private void observeStamp(KeyState state) {
    switch (state) {
      case KeyState.Lww lww -> observeStamp(lww.stamp());
      case KeyState.Register register -> observeStamp(register.register().timestamp());
      case KeyState.Map map ->
          map.map()
              .entries()
              .values()
              .forEach(
                  value -> {
                    if (value instanceof io.replicakv.core.crdt.LwwRegister register) {
                      observeStamp(register.timestamp());
                    }
                  });
      default -> {}
    }
  }

  private void observeStamp(Hlc stamp) {
    try {
      hlc.update(stamp, clock.physicalMillis());
    } catch (ClockDriftException e) {
      // A stamp far ahead of our clock is still merged (refusing it would stop convergence);
      // our clock just does not jump to it. Counted so that an operator sees the bad clock.
      counters.clockDriftRefusals++;
    }
  }

  // ---------------------------------------------------------------- hinted handoff

  private void handOffHints() {
    for (int owner : List.copyOf(store.hintedOwners())) {
      if (owner == nodeId || suspects(owner)) {
        continue;
      }
      List<String> keys = new ArrayList<>();
      List<Bytes> states = new ArrayList<>();
      for (Map.Entry<String, KeyState> hint : store.hintsFor(owner).entrySet()) {
        if (keys.size() >= HANDOFF_BATCH_KEYS_MAX) {
          break;
        }
        keys.add(hint.getKey());
        states.add(hint.getValue().encoded());
      }
      out.send(new LeaderlessMessage.Handoff(nodeId, owner, keys, states));
    }
  }

  private void onHandoff(LeaderlessMessage.Handoff handoff) {
    List<Long> digests = new ArrayList<>();
    for (int i = 0; i < handoff.keys().size(); i++) {
      KeyState state = KeyState.decode(handoff.states().get(i));
      observeStamp(state);
      applyReplicate(handoff.keys().get(i), state, LeaderlessMessage.NO_HINT, true);
      digests.add(state.digest());
    }
    out.send(new LeaderlessMessage.HandoffAck(nodeId, handoff.from(), handoff.keys(), digests));
  }

  private void onHandoffAck(LeaderlessMessage.HandoffAck ack) {
    for (int i = 0; i < ack.keys().size(); i++) {
      String key = ack.keys().get(i);
      long digest = ack.digests().get(i);
      if (store.dropHint(ack.from(), key, digest)) {
        counters.hintsHandedOff++;
        out.persist(
            new PersistRecord(
                new ByteWriter()
                    .writeByte(RECORD_HINT_DROP)
                    .writeVarInt(ack.from())
                    .writeString(key)
                    .writeLong(digest)
                    .toByteArray()),
            false);
      }
    }
  }

  // ---------------------------------------------------------------- persistence

  private void persistKey(String key, KeyState state, boolean sync) {
    out.persist(
        new PersistRecord(
            new ByteWriter()
                .writeByte(RECORD_KEY)
                .writeString(key)
                .writeBytes(state.toBytes())
                .toByteArray()),
        sync);
  }

  private void persistHint(int owner, String key, KeyState state, boolean sync) {
    out.persist(
        new PersistRecord(
            new ByteWriter()
                .writeByte(RECORD_HINT)
                .writeVarInt(owner)
                .writeString(key)
                .writeBytes(state.toBytes())
                .toByteArray()),
        sync);
  }

  /** The largest HLC stamp a state carries (LWW value, register, map fields), or zero. */
  private static Hlc newestStamp(KeyState state) {
    return switch (state) {
      case KeyState.Lww lww -> lww.stamp();
      case KeyState.Register register -> register.register().timestamp();
      case KeyState.Map map ->
          map.map().entries().values().stream()
              .filter(io.replicakv.core.crdt.LwwRegister.class::isInstance)
              .map(value -> ((io.replicakv.core.crdt.LwwRegister) value).timestamp())
              .reduce(Hlc.ZERO, Hlc::max);
      default -> Hlc.ZERO;
    };
  }

  /** The collector's view of this node. */
  private final class CollectorHost implements TombstoneCollector.Host {
    @Override
    public long ticks() {
      return ticks;
    }

    @Override
    public long nextRoundId() {
      return (incarnation << 32) | nextRequestSequence++;
    }

    @Override
    public boolean suspects(int node) {
      return LeaderlessNode.this.suspects(node);
    }

    @Override
    public void mergeDurably(String key, KeyState state) {
      applyReplicate(key, state, LeaderlessMessage.NO_HINT, true);
    }

    @Override
    public void dropHintDurably(int owner, String key, long digest) {
      if (store.dropHint(owner, key, digest)) {
        persistHintDrop(owner, key, digest, true);
      }
    }

    @Override
    public void syncKey(String key, KeyState state) {
      persistKey(key, state, true);
    }

    @Override
    public void dropTombstone(String key, KeyState tombstone) {
      switch (tombstone) {
        case KeyState.Siblings siblings ->
            ownDotFloor = Math.max(ownDotFloor, siblings.context().get(replicaId));
        case KeyState.Lww lww -> stampFloor = Hlc.max(stampFloor, lww.stamp());
        default -> {}
      }
      ByteWriter writer =
          new ByteWriter()
              .writeByte(RECORD_TOMBSTONE_DROP)
              .writeString(key)
              .writeVarLong(ownDotFloor);
      stampFloor.writeTo(writer);
      out.persist(new PersistRecord(writer.toByteArray()), false);
      store.remove(key);
      counters.tombstonesDropped++;
      counters.tombstonesHeld = store.tombstoneKeys().size();
    }

    @Override
    public void observe(KeyState state) {
      observeStamp(state);
    }
  }

  private void persistHintDrop(int owner, String key, long digest, boolean sync) {
    out.persist(
        new PersistRecord(
            new ByteWriter()
                .writeByte(RECORD_HINT_DROP)
                .writeVarInt(owner)
                .writeString(key)
                .writeLong(digest)
                .toByteArray()),
        sync);
  }

  /** Applies one recovered record; returns the incarnation it names, or 0. */
  private long replay(PersistRecord record) {
    ByteReader reader = new ByteReader(record.payload());
    int type = reader.readByte();
    long incarnationSeen = 0;
    switch (type) {
      case RECORD_INCARNATION -> incarnationSeen = reader.readVarLong();
      case RECORD_KEY -> {
        String key = reader.readString(Operation.KEY_CHARS_MAX * 4);
        store.merge(key, KeyState.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
      }
      case RECORD_HINT -> {
        int owner = reader.readVarInt(Integer.MAX_VALUE);
        String key = reader.readString(Operation.KEY_CHARS_MAX * 4);
        KeyState state = KeyState.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES));
        KeyState current = store.hint(owner, key);
        store.putHint(owner, key, current == null ? state : mergeAll(current, state));
      }
      case RECORD_HINT_DROP -> {
        int owner = reader.readVarInt(Integer.MAX_VALUE);
        String key = reader.readString(Operation.KEY_CHARS_MAX * 4);
        store.dropHint(owner, key, reader.readLong());
      }
      case RECORD_TOMBSTONE_DROP -> {
        store.remove(reader.readString(Operation.KEY_CHARS_MAX * 4));
        ownDotFloor = Math.max(ownDotFloor, reader.readVarLong());
        stampFloor = Hlc.max(stampFloor, Hlc.readFrom(reader));
      }
      case RECORD_CREATED ->
          createdByRequest.put(
              reader.readString(Limits.ID_MAX_BYTES),
              KeyState.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
      default -> throw new IllegalStateException("unknown leaderless record type " + type);
    }
    reader.finish();
    return incarnationSeen;
  }
}
