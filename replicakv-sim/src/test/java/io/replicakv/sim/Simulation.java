package io.replicakv.sim;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.Envelope;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.util.Check;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.TreeMap;

/**
 * A deterministic simulation of a group of replicas, their clients, network, clocks and disks.
 *
 * <p>Model. One event queue ordered by (simulated time in ms, sequence number of scheduling) holds
 * everything that will happen: message deliveries, ticks, client operations, timeouts and faults.
 * One {@link Prng} seeded from the run's seed makes every random choice, drawn in event order.
 * Nothing reads the real clock and nothing runs on another thread, so a seed fixes the run: the
 * same seed and the same code give a byte-identical trace ({@link SimResult#traceDigest()}).
 *
 * <p>Replicas are driven exactly as the server drives them: after each {@code step} or {@code
 * tick}, take {@code ready()}; append its records to the node's {@link SimDisk} and sync them when
 * it asks; then send its messages through {@link SimNetwork}; then deliver its replies; then record
 * its committed entries; then {@code advance}; repeat until the Ready is empty. A crash throws the
 * replica object away and a restart builds a new one from what the disk kept.
 *
 * <p>Phases. During the workload phase clients issue operations and the nemesis injects faults
 * ({@link Faults}). At {@link SimConfig#workloadMillis()} the network heals, loss stops, down nodes
 * restart and clients stop issuing; the quiet phase then lets replicas converge before their final
 * states are read. Every {@link Invariant} is checked after every event; the first violation (or
 * any exception thrown by a replica) ends the run and is reported with its seed.
 */
public final class Simulation implements Invariant.View {
  /** Events one run may process; a run that needs more is misconfigured or livelocked. */
  static final long EVENTS_MAX = 20_000_000;

  /** Ready rounds one drain may take before the replica is considered to be spinning. */
  static final int READY_ROUNDS_MAX = 10_000;

  /** Events queued at once; beyond this a replica is flooding the network. */
  static final int QUEUED_EVENTS_MAX = 2_000_000;

  private record Scheduled(long timeMillis, long sequence, SimEvent event) {}

  private static final class Node {
    final int id;
    final SimDisk disk;
    final SimClock clock;
    Replica replica;
    long incarnation;
    boolean holdsData = true;
    long ticks;
    long firstTickMillis;

    Node(int id, SimDisk disk, SimClock clock) {
      this.id = id;
      this.disk = disk;
      this.clock = clock;
    }
  }

  private static final class Client {
    final long id;
    long nextRequestId;
    long outstandingRequestId = -1;
    Lsn sessionToken = Lsn.ZERO;

    Client(long id) {
      this.id = id;
    }
  }

  private final long seed;
  private final SimConfig config;
  private final ReplicaFactory factory;
  private final List<Invariant> invariants;
  private final Prng prng;
  private final PriorityQueue<Scheduled> queue =
      new PriorityQueue<>(
          Comparator.comparingLong(Scheduled::timeMillis).thenComparingLong(Scheduled::sequence));
  private final SimNetwork network;
  private final Node[] nodes;
  private final Client[] clients;
  private final List<Integer> members = new ArrayList<>();
  private final History history = new History();
  private final Trace trace;
  private final List<Invariant.NodeCommit> committedThisEvent = new ArrayList<>();
  private final Map<String, Long> counters = new TreeMap<>();
  private long nowMillis;
  private long sequence;
  private long eventIndex;
  private boolean workloadOver;
  private String violation;

  /**
   * A run of {@code factory}'s replicas under {@code config}, fixed by {@code seed}.
   *
   * @param invariants checked after every event; fresh instances per run
   * @param keepFullTrace keep the whole trace text in the result (costs memory)
   */
  public Simulation(
      long seed,
      SimConfig config,
      ReplicaFactory factory,
      List<Invariant> invariants,
      boolean keepFullTrace) {
    this.seed = seed;
    this.config = config;
    this.factory = factory;
    this.invariants = List.copyOf(invariants);
    this.prng = new Prng(seed);
    this.network = new SimNetwork(config.network(), config.nodeCount());
    this.trace = new Trace(keepFullTrace);
    this.nodes = new Node[config.nodeCount()];
    for (int id = 0; id < nodes.length; id++) {
      members.add(id);
      long offsetMillis =
          prng.between(-config.clockOffsetMillisMax(), config.clockOffsetMillisMax());
      double driftPpm = (prng.nextDouble() * 2 - 1) * config.clockDriftPpmMax();
      nodes[id] =
          new Node(
              id,
              new SimDisk(config.tornWriteProbability()),
              new SimClock(() -> nowMillis, offsetMillis, driftPpm));
    }
    this.clients = new Client[config.clientCount()];
    for (int i = 0; i < clients.length; i++) {
      clients[i] = new Client(i + 1);
    }
  }

  /** Schedules an extra event (a scripted fault) at {@code atMillis}; call before {@link #run}. */
  void schedule(long atMillis, SimEvent event) {
    Check.argument(atMillis >= nowMillis, "schedule at %s before now %s", atMillis, nowMillis);
    Check.state(queue.size() < QUEUED_EVENTS_MAX, "event queue over %s", QUEUED_EVENTS_MAX);
    queue.add(new Scheduled(atMillis, sequence++, event));
  }

  /** Runs to the end of the quiet phase, or to the first violation. */
  public SimResult run() {
    trace.line(0, "seed " + seed + " " + config);
    for (Node node : nodes) {
      trace.line(0, "n" + node.id + " " + node.clock);
      startReplica(node, List.of());
    }
    for (Client client : clients) {
      schedule(prng.between(0, config.thinkMillisMax()), new SimEvent.ClientInvoke(client.id));
    }
    if (config.faults().intervalMillis() > 0) {
      schedule(config.faults().intervalMillis(), new SimEvent.Nemesis());
    }
    if (config.diskFlushIntervalMillis() > 0) {
      for (Node node : nodes) {
        schedule(
            prng.between(1, config.diskFlushIntervalMillis()), new SimEvent.DiskFlush(node.id));
      }
    }
    schedule(config.workloadMillis(), new SimEvent.EndWorkload());
    long endMillis = config.workloadMillis() + config.quietMillis();
    try {
      while (violation == null && !queue.isEmpty() && queue.peek().timeMillis() <= endMillis) {
        Scheduled next = queue.poll();
        nowMillis = next.timeMillis();
        eventIndex++;
        Check.state(eventIndex <= EVENTS_MAX, "run over %s events", EVENTS_MAX);
        committedThisEvent.clear();
        trace.line(nowMillis, "#" + eventIndex + " " + next.event());
        handle(next.event());
        checkInvariants();
      }
    } catch (RuntimeException e) {
      StringWriter stack = new StringWriter();
      e.printStackTrace(new PrintWriter(stack));
      violation = "exception at event #" + eventIndex + " (" + nowMillis + " ms): " + stack;
    }
    if (violation != null) {
      trace.line(nowMillis, "VIOLATION " + violation.lines().findFirst().orElse(""));
    }
    return new SimResult(
        seed,
        trace.finishDigest(),
        eventIndex,
        new Observation(history.ops(), finalStates()),
        Optional.ofNullable(violation),
        trace.tail(),
        trace.fullText(),
        new TreeMap<>(counters));
  }

  private void handle(SimEvent event) {
    switch (event) {
      case SimEvent.DeliverToNode deliver -> onDeliver(deliver);
      case SimEvent.DeliverToClient deliver -> onReply(deliver);
      case SimEvent.Tick tick -> onTick(tick);
      case SimEvent.ClientInvoke invoke -> onInvoke(clients[(int) invoke.clientId() - 1]);
      case SimEvent.ClientTimeout timeout -> onTimeout(timeout);
      case SimEvent.Nemesis nemesis -> onNemesis();
      case SimEvent.DiskFlush flush -> onDiskFlush(nodes[flush.nodeId()]);
      case SimEvent.Crash crash -> crash(nodes[crash.nodeId()]);
      case SimEvent.Restart restart -> restart(nodes[restart.nodeId()]);
      case SimEvent.Partition partition -> {
        network.partition(partition.sideA(), partition.sideB());
        count("partitions");
      }
      case SimEvent.BlockLink block -> {
        network.blockOneWay(block.fromNode(), block.toNode());
        count("partitions");
      }
      case SimEvent.Heal heal -> network.heal();
      case SimEvent.ClockJump jump -> nodes[jump.nodeId()].clock.jump(jump.deltaMillis());
      case SimEvent.EndWorkload end -> endWorkload();
    }
  }

  private void onDeliver(SimEvent.DeliverToNode deliver) {
    Node node = nodes[deliver.nodeId()];
    if (node.replica == null) {
      trace.line(nowMillis, "  dropped: n" + node.id + " down");
      if (deliver.message() instanceof ClientRequest request) {
        // A real client would see its connection refused; it learns nothing and times out.
        trace.line(nowMillis, "  request " + request.requestId() + " unanswered");
      }
      return;
    }
    node.replica.step(deliver.message());
    drain(node);
  }

  private void onTick(SimEvent.Tick tick) {
    Node node = nodes[tick.nodeId()];
    if (node.replica == null || tick.incarnation() != node.incarnation) {
      trace.line(nowMillis, "  stale tick");
      return;
    }
    node.replica.tick();
    drain(node);
    node.ticks++;
    schedule(nextTickMillis(node), new SimEvent.Tick(node.id, node.incarnation));
  }

  /**
   * When the node's next tick falls: its ticks run at its clock's rate, so a clock that drifts fast
   * ticks more often (a node counting timeouts in ticks sees them expire early), which is what
   * lease arguments must survive. Computed from the incarnation's first tick so that rounding to
   * whole milliseconds does not accumulate.
   */
  private long nextTickMillis(Node node) {
    double interval = config.tickMillis() / (1 + node.clock.driftPpm() / 1_000_000);
    long at = node.firstTickMillis + Math.round(node.ticks * interval);
    return Math.max(nowMillis + 1, at);
  }

  /** Persist, sync if asked, send, reply, record commits, advance; until nothing is left. */
  private void drain(Node node) {
    for (int round = 0; ; round++) {
      Check.state(
          round < READY_ROUNDS_MAX, "n%s ready() not empty after %s rounds", node.id, round);
      Ready ready = node.replica.ready();
      if (ready.isEmpty()) {
        return;
      }
      trace.line(
          nowMillis,
          "  n"
              + node.id
              + " ready records="
              + ready.records().size()
              + (ready.syncBeforeSend() ? " synced" : "")
              + " messages="
              + ready.messages().size()
              + " replies="
              + ready.replies().size()
              + " committed="
              + ready.committed().size());
      for (PersistRecord record : ready.records()) {
        node.disk.append(record);
      }
      if (ready.syncBeforeSend()) {
        node.disk.sync();
      }
      for (Envelope envelope : ready.messages()) {
        sendToPeer(node.id, envelope);
      }
      for (ClientReply reply : ready.replies()) {
        sendToClient(node.id, reply);
      }
      for (CommittedEntry entry : ready.committed()) {
        committedThisEvent.add(new Invariant.NodeCommit(node.id, entry));
      }
      node.replica.advance(ready);
    }
  }

  private void sendToPeer(int fromNode, Envelope envelope) {
    int toNode = envelope.to();
    Check.state(
        envelope.message().from() == fromNode,
        "n%s sent a message from %s",
        fromNode,
        envelope.message().from());
    Check.state(
        0 <= toNode && toNode < nodes.length && toNode != fromNode,
        "n%s sent to %s",
        fromNode,
        toNode);
    List<Long> delays = network.nodeDelaysMillis(fromNode, toNode, prng);
    count("messages sent");
    if (delays.isEmpty()) {
      count("messages dropped");
    }
    trace.line(nowMillis, "  send " + envelope.message() + " delays " + delays);
    for (long delayMillis : delays) {
      schedule(nowMillis + delayMillis, new SimEvent.DeliverToNode(toNode, envelope.message()));
    }
  }

  private void sendToClient(int fromNode, ClientReply reply) {
    Check.state(
        1 <= reply.clientId() && reply.clientId() <= clients.length,
        "reply to unknown client %s",
        reply.clientId());
    schedule(
        nowMillis + network.clientDelayMillis(prng),
        new SimEvent.DeliverToClient(reply.clientId(), fromNode, reply));
  }

  private void onReply(SimEvent.DeliverToClient deliver) {
    Client client = clients[(int) deliver.clientId() - 1];
    ClientReply reply = deliver.reply();
    if (client.outstandingRequestId != reply.requestId()) {
      trace.line(nowMillis, "  late reply ignored");
      return;
    }
    history.complete(client.id, reply.requestId(), reply.reply(), eventIndex);
    client.outstandingRequestId = -1;
    client.sessionToken = Lsn.max(client.sessionToken, sessionToken(reply.reply()));
    scheduleNextInvoke(client);
  }

  private static Lsn sessionToken(Reply reply) {
    return switch (reply) {
      case Reply.Written written -> written.sessionToken();
      case Reply.Values values -> values.sessionToken();
      case Reply.Rejected rejected -> Lsn.ZERO;
      case Reply.Uncertain uncertain -> Lsn.ZERO;
    };
  }

  private void onTimeout(SimEvent.ClientTimeout timeout) {
    Client client = clients[(int) timeout.clientId() - 1];
    if (client.outstandingRequestId != timeout.requestId()) {
      return;
    }
    history.timeout(client.id, timeout.requestId(), eventIndex);
    client.outstandingRequestId = -1;
    count("client timeouts");
    scheduleNextInvoke(client);
  }

  private void scheduleNextInvoke(Client client) {
    if (!workloadOver) {
      schedule(
          nowMillis + prng.between(0, config.thinkMillisMax()),
          new SimEvent.ClientInvoke(client.id));
    }
  }

  private void onInvoke(Client client) {
    if (workloadOver || client.outstandingRequestId != -1) {
      return;
    }
    long requestId = client.nextRequestId++;
    String key = "k" + prng.nextInt(config.keyCount());
    Operation operation =
        prng.chance(config.readProbability())
            ? new Operation.Get(key)
            : new Operation.Put(key, "c" + client.id + "-" + requestId);
    int target = route(operation);
    history.invoke(client.id, requestId, operation, eventIndex, nowMillis);
    client.outstandingRequestId = requestId;
    count("ops invoked");
    ClientRequest request = new ClientRequest(client.id, requestId, operation, client.sessionToken);
    trace.line(nowMillis, "  invoke " + request + " at n" + target);
    schedule(
        nowMillis + network.clientDelayMillis(prng), new SimEvent.DeliverToNode(target, request));
    schedule(
        nowMillis + config.clientTimeoutMillis(), new SimEvent.ClientTimeout(client.id, requestId));
  }

  private int route(Operation operation) {
    return switch (config.routing()) {
      case PRIMARY_ONLY -> 0;
      case READS_ANY_NODE -> operation instanceof Operation.Get ? prng.nextInt(nodes.length) : 0;
      case ANY_NODE -> prng.nextInt(nodes.length);
      case LEADER -> believedLeader();
      case WRITES_TO_LEADER_READS_ANY_REPLICA ->
          operation instanceof Operation.Get ? anyPartitionReplica() : believedLeader();
    };
  }

  /**
   * A node whose replica believes it may take writes, as a client that follows redirects would find
   * it; among several (an old leader whose lease has not run out yet), one at random; with none,
   * any replica, so that the request is refused as a misdirected one would be.
   */
  private int believedLeader() {
    List<Integer> leaders = new ArrayList<>();
    for (Node node : nodes) {
      if (node.replica instanceof RoutingHint hint && hint.believesLeader()) {
        leaders.add(node.id);
      }
    }
    return leaders.isEmpty() ? anyPartitionReplica() : prng.pick(leaders);
  }

  /** A uniformly chosen node that holds partition data (up or down). */
  private int anyPartitionReplica() {
    List<Integer> replicas = new ArrayList<>();
    for (Node node : nodes) {
      if (node.holdsData) {
        replicas.add(node.id);
      }
    }
    return prng.pick(replicas);
  }

  private void onNemesis() {
    Faults faults = config.faults();
    List<Integer> up = new ArrayList<>();
    List<Integer> down = new ArrayList<>();
    for (Node node : nodes) {
      (node.replica != null ? up : down).add(node.id);
    }
    if (prng.chance(faults.crashProbability())
        && down.size() < faults.nodesDownMax()
        && !up.isEmpty()) {
      schedule(nowMillis, new SimEvent.Crash(prng.pick(up)));
    }
    if (prng.chance(faults.restartProbability()) && !down.isEmpty()) {
      schedule(nowMillis, new SimEvent.Restart(prng.pick(down)));
    }
    if (prng.chance(faults.partitionProbability()) && nodes.length > 1) {
      schedule(nowMillis, drawPartition(faults));
    }
    if (prng.chance(faults.healProbability())) {
      schedule(nowMillis, new SimEvent.Heal());
    }
    if (prng.chance(faults.clockJumpProbability())) {
      long delta = prng.between(-faults.clockJumpMillisMax(), faults.clockJumpMillisMax());
      schedule(nowMillis, new SimEvent.ClockJump(prng.pick(members), delta));
    }
    if (nowMillis + faults.intervalMillis() < config.workloadMillis()) {
      schedule(nowMillis + faults.intervalMillis(), new SimEvent.Nemesis());
    }
  }

  private SimEvent drawPartition(Faults faults) {
    if (prng.chance(faults.oneWayProbability())) {
      int from = prng.nextInt(nodes.length);
      int to = (from + 1 + prng.nextInt(nodes.length - 1)) % nodes.length;
      return new SimEvent.BlockLink(from, to);
    }
    List<Integer> sideA = new ArrayList<>();
    List<Integer> sideB = new ArrayList<>();
    for (int id : members) {
      (prng.chance(0.5) ? sideA : sideB).add(id);
    }
    if (sideA.isEmpty()) {
      sideA.add(sideB.remove(prng.nextInt(sideB.size())));
    } else if (sideB.isEmpty()) {
      sideB.add(sideA.remove(prng.nextInt(sideA.size())));
    }
    return new SimEvent.Partition(sideA, sideB);
  }

  private void onDiskFlush(Node node) {
    node.disk.sync();
    schedule(nowMillis + config.diskFlushIntervalMillis(), new SimEvent.DiskFlush(node.id));
  }

  private void crash(Node node) {
    if (node.replica == null) {
      trace.line(nowMillis, "  already down");
      return;
    }
    String disk = node.disk.crash(prng);
    node.replica = null;
    node.incarnation++;
    count("crashes");
    trace.line(nowMillis, "  n" + node.id + " crashed, disk " + disk);
  }

  private void restart(Node node) {
    if (node.replica != null) {
      trace.line(nowMillis, "  already up");
      return;
    }
    List<PersistRecord> recovered = node.disk.recover();
    count("restarts");
    trace.line(nowMillis, "  n" + node.id + " recovered " + recovered.size() + " records");
    startReplica(node, recovered);
  }

  private void startReplica(Node node, List<PersistRecord> recovered) {
    node.replica =
        factory.start(new ReplicaFactory.NodeContext(node.id, members, node.clock, recovered));
    node.holdsData = !(node.replica instanceof RoutingHint hint) || hint.holdsData();
    node.incarnation++;
    node.ticks = 0;
    node.firstTickMillis = nowMillis + prng.between(1, config.tickMillis());
    schedule(node.firstTickMillis, new SimEvent.Tick(node.id, node.incarnation));
    drain(node);
  }

  private void endWorkload() {
    workloadOver = true;
    network.heal();
    network.setLossy(false);
    for (Node node : nodes) {
      if (node.replica == null) {
        schedule(nowMillis, new SimEvent.Restart(node.id));
      }
    }
  }

  private void checkInvariants() {
    for (Invariant invariant : invariants) {
      Optional<String> problem = invariant.check(this);
      if (problem.isPresent()) {
        violation = invariant.getClass().getSimpleName() + ": " + problem.get();
        return;
      }
    }
  }

  private Map<Integer, Map<String, List<String>>> finalStates() {
    Map<Integer, Map<String, List<String>>> states = new TreeMap<>();
    for (Node node : nodes) {
      if (node.replica instanceof StateView view) {
        states.put(node.id, new TreeMap<>(view.visibleState()));
      }
    }
    return states;
  }

  private void count(String counter) {
    counters.merge(counter, 1L, Long::sum);
  }

  @Override
  public long nowMillis() {
    return nowMillis;
  }

  @Override
  public long eventIndex() {
    return eventIndex;
  }

  @Override
  public Optional<Replica> replica(int nodeId) {
    return Optional.ofNullable(nodes[nodeId].replica);
  }

  @Override
  public List<Invariant.NodeCommit> committedThisEvent() {
    return List.copyOf(committedThisEvent);
  }
}
