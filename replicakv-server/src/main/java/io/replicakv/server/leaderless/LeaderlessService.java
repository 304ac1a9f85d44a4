package io.replicakv.server.leaderless;

import io.replicakv.core.Envelope;
import io.replicakv.core.PhysicalClock;
import io.replicakv.core.Ready;
import io.replicakv.core.leaderless.KvRequest;
import io.replicakv.core.leaderless.KvResult;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.leaderless.LeaderlessNode;
import io.replicakv.core.leaderless.Placement;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.ring.Ring;
import io.replicakv.core.ring.RingNode;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.server.durable.GroupCommit;
import io.replicakv.server.leaderless.LeaderlessFrameCodec.KeyspaceMessage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one {@link LeaderlessNode} (one leaderless keyspace on this node) on a single-threaded
 * loop, in the order the core's {@code step / tick / ready / advance} contract asks: input or tick,
 * then write what {@code ready()} holds to the keyspace's log, then {@code advance}, then send its
 * messages and complete the futures of the requests that finished, the last two only once the
 * records are durable when the ready asked for that (see "Group commit").
 *
 * <p><b>Group commit.</b> Records are written without forcing; a {@link GroupCommit} forces the log
 * on its own thread and releases, in loop order, each turn's messages and client results once the
 * log is durable through the records written up to that turn (when the turn's ready asked for a
 * sync; otherwise as soon as nothing is held before it). Writes arriving while a force runs share
 * the next one, so a burst of writes costs a few forces instead of one per loop turn, and the loop
 * never waits on the device. Results are held with messages because a write's OK can depend on a
 * record of the same turn (the version created here, or a replicate merged here with W=1). Reads
 * may see a state whose record is still being forced; a crash before the force loses it, and no
 * writer was told OK for it.
 *
 * <p><b>Member ids.</b> The core names nodes by integers; the cluster names them by strings. The
 * caller passes the mapping: {@link LeaderlessKeyspaces} derives each member's integer from its id
 * alone ({@link #stableId}), so it never changes when others join, and the dots a member created
 * keep naming it; the list constructors (tests) use list indexes. The keyspace's ring is built from
 * those integers (decimal strings, {@link #RING_VNODES} tokens each), so it is this keyspace's own
 * placement, not the slot ring of single-leader keyspaces.
 *
 * <p><b>Membership.</b> {@code LeaderlessNode} fixes its ring for its lifetime, so a member set
 * change means a new service over the same log. Before the new node replays it, {@link
 * LeaderlessRecordLog#rehome} turns every persisted key this node no longer owns under the new
 * placement into hints for the key's new owners; the core then hands them off as it does any hint
 * and drops each once its owner acknowledged that exact state. So a node that lost a range keeps
 * nothing of it once its hints have drained, and the new owners get every state it held, without a
 * second transfer protocol. Keys that reach a non-owner later (a peer still on the old placement
 * replicating to it) are counted ({@link #strayKeys}) and rehomed at the next restart.
 *
 * <p><b>Departure.</b> A service built {@code departing} (this member is LEAVING or LEFT) leaves
 * this node out of the ring, so the rehoming above turns every key state it persisted into hints
 * for the key's owners among the remaining members, and the core hands them off and drops each once
 * acknowledged: a decommissioned node's data reaches its new owners without anti-entropy. The core
 * accepts a node outside its ring for this; it owns nothing and still coordinates requests.
 *
 * <p><b>Anti-entropy.</b> Exchanges are started here rather than by the core's own schedule when
 * {@link AntiEntropySchedule#intervalMillis()} is positive (the keyspaces then give the core an
 * interval of 0): every interval the next (partition, other owner) pair in round robin gets an
 * exchange, the core's first message (this node's Merkle root of the partition) built here and the
 * rest of the exchange run by the cores. The schedule is throttled by a byte budget refilled at
 * {@link AntiEntropySchedule#bytesPerSecond()}: an interval whose budget is spent (the bytes the
 * core shipped since count against it) starts nothing and is counted as throttled; while the budget
 * is spent, an exchange a peer starts with this node is refused too (counted), since the states it
 * asks for would be shipped from this node's budget. So a node ships about that rate however many
 * peers start exchanges with it; an exchange accepted or started just before the budget ran out may
 * overshoot it by what it ships ({@code LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX} states at most).
 * During a repair pass (for {@link #REPAIR_UNTHROTTLED_MILLIS} after a round of the pass started
 * here) nothing is throttled. {@link #startExchanges} starts an exchange with every other owner of
 * every partition at once, for an operator's repair pass ({@link LeaderlessRepair}).
 *
 * <p><b>Hints per owner.</b> The core counts hints only in total; {@link HintLedger} follows the
 * persisted hint records to count them per owner, for metrics and for tests that wait until the
 * hints for a returning node have drained.
 *
 * <p><b>Threads.</b> Everything that touches the node runs on {@code loop}, which must be
 * single-threaded; frames and requests arriving on other threads are handed to it. A failure on the
 * loop (a broken invariant, a disk error) stops the service: pending requests fail and later ones
 * are refused, rather than carrying on with state the disk may not hold.
 */
public final class LeaderlessService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaderlessService.class);

  /** Wall-clock period of one core tick; timeouts in the config are counted in these. */
  public static final long TICK_PERIOD_MILLIS = 20;

  /** Tokens each member places on this keyspace's ring. */
  public static final int RING_VNODES = 64;

  /** Requests waiting for an outcome at once; past it new requests are refused. */
  public static final int IN_FLIGHT_REQUESTS_MAX = 10_000;

  /**
   * The server's anti-entropy schedule.
   *
   * @param intervalMillis wall-clock time between two scheduled exchanges; 0 leaves scheduling to
   *     the core's config
   * @param bytesPerSecond state bytes per second scheduled exchanges may ship; 0 is unlimited
   */
  public record AntiEntropySchedule(long intervalMillis, long bytesPerSecond) {
    public AntiEntropySchedule {
      Check.argument(intervalMillis >= 0, "interval %s ms < 0", intervalMillis);
      Check.argument(bytesPerSecond >= 0, "%s bytes per second < 0", bytesPerSecond);
    }

    /** No server schedule: the core's own interval applies. */
    public static final AntiEntropySchedule CORE = new AntiEntropySchedule(0, 0);

    /**
     * The schedule of the node settings: {@code intervalMillis} 0 turns scheduled exchanges off
     * (the server schedules, and its interval never comes round; the core schedules none), unlike
     * {@link #CORE}, which leaves scheduling to the core.
     */
    public static AntiEntropySchedule ofSettings(long intervalMillis, long bytesPerSecond) {
      return new AntiEntropySchedule(
          intervalMillis == 0 ? Long.MAX_VALUE : intervalMillis, bytesPerSecond);
    }

    /** Whether scheduled exchanges are off (setting 0). */
    public boolean off() {
      return intervalMillis == Long.MAX_VALUE;
    }
  }

  /** What {@link #startExchanges} did: exchanges started and pairs skipped (peer suspected). */
  public record ExchangeStart(int started, int skippedSuspected) {}

  /** Sends one encoded frame to the member with integer id {@code to}; must not block. */
  @FunctionalInterface
  public interface Transport {
    void send(int to, byte[] frame);
  }

  private final int keyspace;
  private final Map<Integer, String> memberById;
  private final Map<String, Integer> idByMember;
  private final int self;
  private final ScheduledExecutorService loop;
  private final Transport transport;
  private final LeaderlessRecordLog recordLog;
  private final GroupCommit groupCommit;
  private final LeaderlessNode node;
  private final Map<Long, CompletableFuture<KvResult>> inFlight = new HashMap<>();
  private final ScheduledFuture<?> ticker;
  private final PhysicalClock clock;
  private final AntiEntropySchedule schedule;
  private final List<Integer> ownedPartitions;
  private final HintLedger hintLedger = new HintLedger();
  private final Placement placement;
  private final boolean departing;
  private final java.util.Set<String> strays = new java.util.HashSet<>();
  private volatile int strayCount;
  private long scheduleCursor;
  private long lastScheduledMillis;
  private long lastRefillMillis;
  private long budgetBytes;
  private long lastBytesShipped;
  private long exchangesStartedHere;
  private long exchangesThrottled;
  private long exchangesRefused;
  private long repairUnthrottledUntilMillis;
  private boolean hintLedgerDriftLogged;
  private volatile boolean hintLedgerAgrees = true;
  private volatile Map<String, Integer> hintsByOwnerView = Map.of();
  private volatile long sweepPosition;
  private long nextRequestId = 1;
  private volatile boolean stopped;
  private volatile Map<String, Long> countersView = Map.of();

  /**
   * Starts the node of keyspace {@code keyspace} for member {@code selfId}, replaying {@code
   * logFile}.
   *
   * @param members every member id of the cluster in join order (the integer-id mapping)
   */
  public LeaderlessService(
      int keyspace,
      List<String> members,
      String selfId,
      LeaderlessConfig config,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport) {
    this(
        keyspace,
        indexIds(members),
        selfId,
        config,
        clock,
        logFile,
        loop,
        transport,
        AntiEntropySchedule.CORE);
  }

  /** Members to their indexes in {@code members}, which must not repeat. */
  public static Map<String, Integer> indexIds(List<String> members) {
    Check.argument(
        members.stream().distinct().count() == members.size(), "duplicate member in %s", members);
    Map<String, Integer> ids = new java.util.LinkedHashMap<>();
    for (int i = 0; i < members.size(); i++) {
      ids.put(members.get(i), i);
    }
    return ids;
  }

  /**
   * The integer a member has in every leaderless keyspace: 30 bits of the CRC32C of its id, so it
   * depends on nothing but the id (two members with the same value are refused by the caller).
   */
  public static int stableId(String memberId) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(memberId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return (int) (crc.getValue() & 0x3FFF_FFFFL);
  }

  /**
   * Starts the node of keyspace {@code keyspace} for member {@code selfId} over the members of
   * {@code ids} (member id to the core's integer id), rehoming and replaying {@code logFile}, with
   * exchanges started on {@code schedule} instead of the core's interval.
   */
  public LeaderlessService(
      int keyspace,
      Map<String, Integer> ids,
      String selfId,
      LeaderlessConfig config,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport,
      AntiEntropySchedule schedule) {
    this(keyspace, ids, selfId, config, clock, logFile, loop, transport, schedule, false);
  }

  /**
   * As above; with {@code departing} this node is left out of the placement (a member leaving the
   * cluster, see "Departure"): the ring is built from the other members of {@code ids}, so every
   * key it holds is rehomed into hints for its owners and handed off.
   */
  public LeaderlessService(
      int keyspace,
      Map<String, Integer> ids,
      String selfId,
      LeaderlessConfig config,
      PhysicalClock clock,
      Path logFile,
      ScheduledExecutorService loop,
      Transport transport,
      AntiEntropySchedule schedule,
      boolean departing) {
    int placementMembers = departing ? ids.size() - 1 : ids.size();
    Check.argument(
        placementMembers >= config.replicas(),
        "%s members for N=%s",
        placementMembers,
        config.replicas());
    Check.argument(
        ids.values().stream().distinct().count() == ids.size(), "repeated integer id in %s", ids);
    this.keyspace = keyspace;
    this.idByMember = Map.copyOf(ids);
    Map<Integer, String> byId = new TreeMap<>();
    ids.forEach((member, id) -> byId.put(id, member));
    this.memberById = java.util.Collections.unmodifiableMap(byId);
    Integer selfInt = ids.get(selfId);
    Check.argument(selfInt != null, "member %s not in %s", selfId, ids.keySet());
    this.self = selfInt;
    this.loop = Check.notNull(loop, "loop");
    this.transport = Check.notNull(transport, "transport");
    this.departing = departing;
    List<RingNode> ringNodes = new ArrayList<>();
    for (int id : memberById.keySet()) {
      if (!(departing && id == selfInt)) {
        ringNodes.add(RingNode.of(Integer.toString(id)));
      }
    }
    Placement placement = new Placement(Ring.of(RING_VNODES, ringNodes), config.replicas());
    int rehomed = LeaderlessRecordLog.rehome(logFile, placement, self);
    if (rehomed > 0) {
      log.info(
          "keyspace {}: {} persisted key states no longer owned here became hints for their owners",
          keyspace,
          rehomed);
    }
    this.placement = placement;
    this.recordLog = new LeaderlessRecordLog(logFile);
    this.groupCommit =
        new GroupCommit(
            "leaderless-" + keyspace, recordLog, task -> loop.execute(() -> onLoop(task)));
    this.node = new LeaderlessNode(self, placement, config, clock, recordLog.recovered());
    this.clock = clock;
    this.schedule = Check.notNull(schedule, "schedule");
    this.ownedPartitions = placement.partitionsOf(self);
    recordLog.recovered().forEach(hintLedger::apply);
    this.lastRefillMillis = clock.physicalMillis();
    this.lastScheduledMillis = lastRefillMillis;
    this.budgetBytes = schedule.bytesPerSecond();
    publishViews(true);
    this.ticker =
        loop.scheduleAtFixedRate(
            () ->
                onLoop(
                    () -> {
                      node.tick();
                      scheduledAntiEntropy();
                    }),
            TICK_PERIOD_MILLIS,
            TICK_PERIOD_MILLIS,
            TimeUnit.MILLISECONDS);
    loop.execute(() -> onLoop(() -> {}));
  }

  /** The integer id the core uses for {@code memberId}, or -1 when it is not a member. */
  public int idOf(String memberId) {
    return idByMember.getOrDefault(memberId, -1);
  }

  /** The member id of core id {@code id}, or null. */
  public String memberOf(int id) {
    return memberById.get(id);
  }

  /** This node's integer id. */
  public int selfId() {
    return self;
  }

  /** Whether this node serves the keyspace as a departing member (it owns nothing, hands off). */
  public boolean departing() {
    return departing;
  }

  /** Hints this node holds, as of the last loop turn (all owners). */
  public int hintsHeld() {
    return hintsByOwnerView.values().stream().mapToInt(Integer::intValue).sum();
  }

  /** The member ids owning {@code key} under this service's placement, in preference order. */
  public List<String> ownersOf(String key) {
    List<String> owners = new ArrayList<>();
    for (int id : placement.owners(placement.partitionOf(key))) {
      owners.add(memberName(id));
    }
    return owners;
  }

  /**
   * The values this node's store holds for {@code key} as an owner (no hints), read on the loop.
   */
  public CompletableFuture<List<String>> localValues(String key) {
    CompletableFuture<List<String>> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(() -> onLoop(() -> future.complete(List.copyOf(node.localValues(key)))));
    return future;
  }

  /** The keyspace this service serves. */
  public int keyspace() {
    return keyspace;
  }

  /**
   * Coordinates {@code request} (its client and request ids are replaced by this service's); the
   * future completes on the loop with the outcome, or exceptionally when the service stops.
   */
  public CompletableFuture<KvResult> submit(KvRequest request) {
    CompletableFuture<KvResult> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  if (inFlight.size() >= IN_FLIGHT_REQUESTS_MAX) {
                    future.completeExceptionally(
                        new IllegalStateException(
                            inFlight.size() + " leaderless requests in flight, retry later"));
                    return;
                  }
                  long id = nextRequestId++;
                  inFlight.put(id, future);
                  node.submit(withIds(request, id));
                }));
    return future;
  }

  /** Hands a received frame to the loop; a corrupt frame is logged and dropped. */
  public void onFrame(byte[] frame) {
    List<KeyspaceMessage> messages;
    try {
      messages = LeaderlessFrameCodec.decode(frame);
    } catch (CorruptEncodingException e) {
      log.warn("keyspace {}: dropping corrupt leaderless frame: {}", keyspace, e.getMessage());
      return;
    }
    if (stopped) {
      return;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  for (KeyspaceMessage message : messages) {
                    if (message.keyspace() != keyspace || message.message().to() != self) {
                      continue;
                    }
                    if (message.message() instanceof LeaderlessMessage.TreeLevel start
                        && start.level() == 0
                        && budgetSpent()) {
                      // a peer's new exchange: its states would be shipped from our budget
                      exchangesRefused++;
                      continue;
                    }
                    node.step(message.message());
                  }
                }));
  }

  /** The node's counters by name as of the last loop turn (safe to read from any thread). */
  public Map<String, Long> counters() {
    return countersView;
  }

  private void onLoop(Runnable input) {
    if (stopped) {
      return;
    }
    try {
      input.run();
      pump();
    } catch (RuntimeException e) {
      log.error("keyspace {}: leaderless service stops", keyspace, e);
      stop(e);
    }
  }

  private void pump() {
    Ready ready = node.ready();
    long sequence = recordLog.write(ready.records());
    boolean hintsTouched = false;
    for (io.replicakv.core.PersistRecord record : ready.records()) {
      hintsTouched |= hintLedger.apply(record);
      String key = LeaderlessRecordLog.keyOfKeyRecord(record);
      if (key != null
          && !placement.owns(self, placement.partitionOf(key))
          && strays.size() < STRAYS_REMEMBERED_MAX
          && strays.add(key)) {
        strayCount = strays.size();
      }
    }
    Map<Integer, List<KeyspaceMessage>> byPeer = new TreeMap<>();
    for (Envelope envelope : ready.messages()) {
      if (envelope.message() instanceof LeaderlessMessage message) {
        byPeer
            .computeIfAbsent(envelope.to(), to -> new ArrayList<>())
            .add(new KeyspaceMessage(keyspace, message));
      }
    }
    node.advance(ready);
    List<KvResult> results = node.takeResults();
    boolean needsForce = !ready.records().isEmpty() && ready.syncBeforeSend();
    if (!byPeer.isEmpty() || !results.isEmpty() || needsForce) {
      groupCommit.after(sequence, needsForce, () -> release(byPeer, results));
    }
    publishViews(hintsTouched);
  }

  private void release(Map<Integer, List<KeyspaceMessage>> byPeer, List<KvResult> results) {
    sendBatches(byPeer);
    for (KvResult result : results) {
      CompletableFuture<KvResult> future = inFlight.remove(result.requestId());
      if (future != null) {
        future.complete(result);
      }
    }
  }

  /** Forces of the keyspace's log so far (each covers every write before it). */
  CompletableFuture<Long> forces() {
    CompletableFuture<Long> future = new CompletableFuture<>();
    loop.execute(() -> future.complete(groupCommit.forces()));
    return future;
  }

  private void sendBatches(Map<Integer, List<KeyspaceMessage>> byPeer) {
    for (Map.Entry<Integer, List<KeyspaceMessage>> batch : byPeer.entrySet()) {
      List<KeyspaceMessage> messages = batch.getValue();
      for (int from = 0; from < messages.size(); from += FRAME_MESSAGES_MAX) {
        List<KeyspaceMessage> part =
            messages.subList(from, Math.min(messages.size(), from + FRAME_MESSAGES_MAX));
        transport.send(batch.getKey(), LeaderlessFrameCodec.encode(part));
      }
    }
  }

  private void publishViews(boolean hintsTouched) {
    Map<String, Long> counters = new java.util.LinkedHashMap<>(node.counters().asMap());
    counters.merge("anti_entropy_exchanges", exchangesStartedHere, Long::sum);
    counters.put("anti_entropy_exchanges_throttled", exchangesThrottled);
    counters.put("anti_entropy_exchanges_refused", exchangesRefused);
    countersView = java.util.Collections.unmodifiableMap(counters);
    if (!hintsTouched && hintsByOwnerView.isEmpty()) {
      return;
    }
    Map<String, Integer> byOwner = new TreeMap<>();
    hintLedger.countsByOwner().forEach((owner, count) -> byOwner.put(memberName(owner), count));
    hintsByOwnerView = java.util.Collections.unmodifiableMap(byOwner);
    boolean agrees = hintLedger.agreesWith(node.hintCount());
    hintLedgerAgrees = agrees;
    if (!agrees && !hintLedgerDriftLogged) {
      hintLedgerDriftLogged = true;
      log.warn(
          "keyspace {}: hints per owner {} do not add up to the node's {} hints; the per-owner"
              + " metric is wrong (record layout changed?)",
          keyspace,
          byOwner,
          node.hintCount());
    }
  }

  private String memberName(int id) {
    String member = memberById.get(id);
    return member != null ? member : "#" + id;
  }

  /**
   * Hints this node holds per owner (member id), as of the last loop turn; owners with none absent.
   */
  public Map<String, Integer> hintsByOwner() {
    return hintsByOwnerView;
  }

  /** Whether the per-owner hint counts add up to the core's total (false means a bug here). */
  public boolean hintLedgerAgrees() {
    return hintLedgerAgrees;
  }

  /**
   * Position of the scheduled anti-entropy in its sweep over this node's (partition, peer) pairs.
   */
  public long sweepPosition() {
    return sweepPosition;
  }

  /** Partitions this node owns (the length of one scheduled sweep, per other owner). */
  public int ownedPartitionCount() {
    return ownedPartitions.size();
  }

  /**
   * How long after a repair round started here exchange starts from peers are accepted unthrottled.
   */
  static final long REPAIR_UNTHROTTLED_MILLIS = 60_000;

  private void refillBudget(long now) {
    long shipped = node.counters().get("anti_entropy_bytes_shipped");
    long rate = schedule.bytesPerSecond();
    if (rate > 0) {
      long elapsed = Math.max(0, now - lastRefillMillis);
      long refill = elapsed >= 1000 ? rate : rate * elapsed / 1000;
      budgetBytes = Math.min(rate, budgetBytes + refill) - (shipped - lastBytesShipped);
    }
    lastRefillMillis = now;
    lastBytesShipped = shipped;
  }

  /**
   * Whether this node's anti-entropy byte budget is spent, so that it neither starts nor accepts a
   * scheduled exchange; never during a repair pass ({@link #REPAIR_UNTHROTTLED_MILLIS}).
   */
  private boolean budgetSpent() {
    if (schedule.intervalMillis() <= 0 || schedule.bytesPerSecond() <= 0) {
      return false;
    }
    long now = clock.physicalMillis();
    refillBudget(now);
    return budgetBytes <= 0 && now >= repairUnthrottledUntilMillis;
  }

  private void scheduledAntiEntropy() {
    if (schedule.intervalMillis() <= 0 || schedule.off() || ownedPartitions.isEmpty()) {
      return;
    }
    long now = clock.physicalMillis();
    long rate = schedule.bytesPerSecond();
    refillBudget(now);
    if (now - lastScheduledMillis < schedule.intervalMillis()) {
      return;
    }
    lastScheduledMillis = now;
    if (rate > 0 && budgetBytes <= 0 && now >= repairUnthrottledUntilMillis) {
      exchangesThrottled++;
      return;
    }
    int partition = ownedPartitions.get((int) (scheduleCursor % ownedPartitions.size()));
    long round = scheduleCursor / ownedPartitions.size();
    scheduleCursor++;
    sweepPosition = scheduleCursor % ownedPartitions.size();
    List<Integer> others = otherOwners(partition, false);
    if (others.isEmpty()) {
      return;
    }
    int peer = others.get((int) (round % others.size()));
    sendExchangeStarts(List.of(treeRoot(partition, peer)));
  }

  private List<Integer> otherOwners(int partition, boolean higherIdsOnly) {
    List<Integer> others = new ArrayList<>();
    for (int owner : node.placement().owners(partition)) {
      if (owner != self && !(higherIdsOnly && owner < self) && !node.suspects(owner)) {
        others.add(owner);
      }
    }
    return others;
  }

  private LeaderlessMessage.TreeLevel treeRoot(int partition, int peer) {
    return new LeaderlessMessage.TreeLevel(
        self, peer, partition, 0, List.of(0), List.of(node.merkleRoot(partition)));
  }

  private void sendExchangeStarts(List<LeaderlessMessage.TreeLevel> starts) {
    Map<Integer, List<KeyspaceMessage>> byPeer = new TreeMap<>();
    for (LeaderlessMessage.TreeLevel start : starts) {
      byPeer
          .computeIfAbsent(start.to(), to -> new ArrayList<>())
          .add(new KeyspaceMessage(keyspace, start));
    }
    exchangesStartedHere += starts.size();
    sendBatches(byPeer);
  }

  /**
   * Starts, now, one exchange with every other owner of every partition this node owns (only owners
   * with a higher id when {@code higherIdsOnly}, so that a pass run on every node compares each
   * pair of owners once). Suspected peers are skipped and counted.
   */
  public CompletableFuture<ExchangeStart> startExchanges(boolean higherIdsOnly) {
    CompletableFuture<ExchangeStart> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  repairUnthrottledUntilMillis = clock.physicalMillis() + REPAIR_UNTHROTTLED_MILLIS;
                  List<LeaderlessMessage.TreeLevel> starts = new ArrayList<>();
                  int skipped = 0;
                  for (int partition : ownedPartitions) {
                    for (int owner : node.placement().owners(partition)) {
                      if (owner == self || (higherIdsOnly && owner < self)) {
                        continue;
                      }
                      if (node.suspects(owner)) {
                        skipped++;
                      } else {
                        starts.add(treeRoot(partition, owner));
                      }
                    }
                  }
                  sendExchangeStarts(starts);
                  future.complete(new ExchangeStart(starts.size(), skipped));
                }));
    return future;
  }

  /** This node's Merkle root of every partition it owns, read on the loop. */
  public CompletableFuture<Map<Integer, Long>> merkleRoots() {
    CompletableFuture<Map<Integer, Long>> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () -> {
                  Map<Integer, Long> roots = new TreeMap<>();
                  for (int partition : ownedPartitions) {
                    roots.put(partition, node.merkleRoot(partition));
                  }
                  future.complete(roots);
                }));
    return future;
  }

  /** The owners (integer ids) of every partition, from this keyspace's placement. */
  public List<List<Integer>> ownersByPartition() {
    List<List<Integer>> owners = new ArrayList<>();
    for (int p = 0; p < node.placement().partitionCount(); p++) {
      owners.add(node.placement().owners(p));
    }
    return owners;
  }

  /** The member ids by the core's integer ids. */
  public Map<Integer, String> members() {
    return memberById;
  }

  /** Distinct stray keys remembered; past it the count stops growing (a restart rehomes all). */
  static final int STRAYS_REMEMBERED_MAX = 100_000;

  /**
   * Keys this node persisted as owned data since it started although the placement says it does not
   * own them (a peer on an older placement replicated to it); the next service start turns them
   * into hints for their owners.
   */
  public int strayKeys() {
    return strayCount;
  }

  /** Keys with a visible value this node's store holds in partitions it does not own. */
  public CompletableFuture<Integer> keysHeldNotOwned() {
    CompletableFuture<Integer> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(
        () ->
            onLoop(
                () ->
                    future.complete(
                        (int)
                            node.visibleState().keySet().stream()
                                .filter(key -> !placement.owns(self, placement.partitionOf(key)))
                                .count())));
    return future;
  }

  /** Keys with a visible value this node's store holds, owned or not. */
  public CompletableFuture<Integer> keysHeld() {
    CompletableFuture<Integer> future = new CompletableFuture<>();
    if (stopped) {
      future.completeExceptionally(new IllegalStateException("leaderless service stopped"));
      return future;
    }
    loop.execute(() -> onLoop(() -> future.complete(node.visibleState().size())));
    return future;
  }

  /** Messages per frame the sender puts in one frame; a state is at most a few MB. */
  private static final int FRAME_MESSAGES_MAX = 64;

  private static KvRequest withIds(KvRequest request, long id) {
    return switch (request) {
      case KvRequest.Get get -> new KvRequest.Get(0, id, get.key(), get.readQuorum());
      case KvRequest.Put put ->
          new KvRequest.Put(0, id, put.key(), put.write(), put.context(), put.writeQuorum());
    };
  }

  private void stop(Throwable cause) {
    stopped = true;
    ticker.cancel(false);
    groupCommit.clear();
    for (CompletableFuture<KvResult> future : inFlight.values()) {
      future.completeExceptionally(
          cause != null ? cause : new IllegalStateException("leaderless service stopped"));
    }
    inFlight.clear();
  }

  /** Stops ticking, fails pending requests and closes the log (waits for the loop to do so). */
  @Override
  public void close() {
    if (loop instanceof io.netty.util.concurrent.EventExecutor executor && executor.inEventLoop()) {
      stop(null);
      closeLog();
      return;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      loop.execute(
          () -> {
            stop(null);
            done.complete(null);
          });
      done.get(10, TimeUnit.SECONDS);
      closeLog();
    } catch (java.util.concurrent.RejectedExecutionException e) {
      stopped = true;
      ticker.cancel(false);
      closeLog();
    } catch (Exception e) {
      throw new IllegalStateException(
          "leaderless service of keyspace " + keyspace + " did not stop", e);
    }
  }

  /**
   * For crash tests: stops as {@link #close} does, but the log loses every record no completed
   * force covered (as after a power loss). Returns the bytes lost.
   */
  long crashLosingUnforced() throws Exception {
    CompletableFuture<Void> done = new CompletableFuture<>();
    loop.execute(
        () -> {
          stop(null);
          done.complete(null);
        });
    done.get(10, TimeUnit.SECONDS);
    groupCommit.close();
    return recordLog.closeLosingUnforced();
  }

  /** Lets a running force finish (its outcome no longer matters), then closes the file. */
  private void closeLog() {
    groupCommit.close();
    recordLog.close();
  }
}
