package io.replicakv.server.leaderless;

import io.replicakv.core.PhysicalClock;
import io.replicakv.core.leaderless.ConflictMode;
import io.replicakv.core.leaderless.LeaderlessConfig;
import io.replicakv.core.quorum.ConflictStrategy;
import io.replicakv.core.quorum.KeyspaceConfig;
import io.replicakv.core.quorum.Style;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.route.PeerRoutes;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leaderless keyspaces this node serves: one {@link LeaderlessService} per keyspace whose style
 * is {@code leaderless} in the cluster metadata, started when the metadata first shows it, all on
 * the node loop. Peer traffic goes in {@link #TYPE_LEADERLESS} frames (payload: one {@link
 * LeaderlessFrameCodec} frame), answered by an empty {@link #TYPE_LEADERLESS_ACK}; the core treats
 * a lost frame as a lost message, so the sender ignores failures apart from counting them.
 *
 * <p>Member ids: the integer id of a member is {@link LeaderlessService#stableId} of its member id,
 * the same on every node and unchanged by joins and leaves. A keyspace's service serves the members
 * that own data (UP, DOWN); when that set changes the service is replaced and the keys this node
 * stops owning are handed off to their new owners (see {@link LeaderlessService} on membership).
 *
 * <p><b>Departure.</b> A decommissioned member leaves the leaderless placement as soon as it is
 * LEAVING (not only once LEFT): every node then serves the placement without it, and the leaver
 * itself replaces its services by <i>departing</i> ones, whose placement leaves it out, so every
 * key state it persisted is rehomed into hints for the key's owners under the new placement and
 * handed off by the core's hinted handoff; each hint is dropped once its owner acknowledged that
 * exact state, so {@link #hintsHeld()} reaching 0 on the leaver means the N copies of everything it
 * held are restored without waiting for anti-entropy. It goes on doing so after the flip to LEFT
 * (and after a restart) while it runs; it also still coordinates requests of clients connected to
 * it. Owners answer a departing member, whose integer id is not in their placement, by looking it
 * up in the cluster view ({@link #memberWithStableId}).
 *
 * <p>Anti-entropy runs on the server's schedule ({@link LeaderlessService.AntiEntropySchedule},
 * settings {@code leaderless-anti-entropy-interval-ms} and {@code
 * leaderless-anti-entropy-bytes-per-sec}), so the core's own interval is set to 0. An operator's
 * pass ({@link #repair}, {@code KV.REPAIR}) talks to the members in {@link RepairFrames} (peer
 * frame types 34 and 35).
 *
 * <p>Records go to {@code data-dir/leaderless/keyspace-<n>.log} (see {@link LeaderlessRecordLog}
 * for why not the node's main log).
 */
public final class LeaderlessKeyspaces implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LeaderlessKeyspaces.class);

  /** Peer frame type carrying a {@link LeaderlessFrameCodec} frame. */
  public static final int TYPE_LEADERLESS = 32;

  /** Reply to {@link #TYPE_LEADERLESS}: empty, means only "received". */
  public static final int TYPE_LEADERLESS_ACK = 33;

  private final String selfId;
  private final Path dataDir;
  private final PeerClient peers;
  private final PeerRoutes routes;
  private final ScheduledExecutorService loop;
  private final PhysicalClock clock;
  private final LeaderlessService.AntiEntropySchedule schedule;
  private final Map<Integer, LeaderlessService> services = new ConcurrentHashMap<>();
  private final Map<Integer, Map<Integer, String>> membersByKeyspace = new ConcurrentHashMap<>();
  private final Map<Integer, KeyspaceConfig> configs = new ConcurrentHashMap<>();
  private final Map<Integer, Long> startedMillis = new ConcurrentHashMap<>();

  /**
   * How often services are checked for stray keys, and how long a service must have run before it
   * is restarted for them (so that a member change settles first).
   */
  static final long STRAY_CHECK_MILLIS = 3_000;

  private final ScheduledExecutorService straySweeper =
      java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "leaderless-stray-sweeper");
            t.setDaemon(true);
            return t;
          });
  private volatile ClusterView latest;
  private final AtomicLong framesSendFailed = new AtomicLong();
  private final AtomicLong siblingReadsRefused = new AtomicLong();

  public LeaderlessKeyspaces(
      String selfId,
      Path dataDir,
      PeerClient peers,
      PeerRoutes routes,
      ScheduledExecutorService loop,
      PhysicalClock clock) {
    this(selfId, dataDir, peers, routes, loop, clock, LeaderlessService.AntiEntropySchedule.CORE);
  }

  public LeaderlessKeyspaces(
      String selfId,
      Path dataDir,
      PeerClient peers,
      PeerRoutes routes,
      ScheduledExecutorService loop,
      PhysicalClock clock,
      LeaderlessService.AntiEntropySchedule schedule) {
    this.schedule = schedule;
    this.selfId = selfId;
    straySweeper.scheduleWithFixedDelay(
        () -> {
          try {
            restartServicesWithStrays();
          } catch (RuntimeException e) {
            log.error("leaderless stray-key check failed", e);
          }
        },
        STRAY_CHECK_MILLIS,
        STRAY_CHECK_MILLIS,
        java.util.concurrent.TimeUnit.MILLISECONDS);
    this.dataDir = dataDir;
    this.peers = peers;
    this.routes = routes;
    this.loop = loop;
    this.clock = clock;
  }

  /**
   * Starts a service for every leaderless keyspace of {@code view} not yet served, and replaces the
   * service of a keyspace whose placement members changed (see {@link LeaderlessService} on
   * membership). Placement members are the members that own data: UP or DOWN (a STAGED or JOINING
   * node is not one yet, a LEAVING or LEFT one no longer); a LEAVING or LEFT node itself runs
   * departing services (see "Departure").
   */
  public synchronized void onView(ClusterView view) {
    if (latest != null && view.version() < latest.version()) {
      return;
    }
    latest = view;
    Map<String, Integer> ids = placementIds(view);
    if (ids == null) {
      return;
    }
    boolean departing = !ids.containsKey(selfId);
    if (departing) {
      Member self = view.members().get(selfId);
      if (self == null
          || (self.state() != MemberState.LEAVING && self.state() != MemberState.LEFT)) {
        return; // STAGED or JOINING: owns nothing yet
      }
      int selfInt = LeaderlessService.stableId(selfId);
      if (ids.containsValue(selfInt)) {
        log.error("{} shares its leaderless id {} with a member; not handing off", selfId, selfInt);
        return;
      }
      ids = new java.util.TreeMap<>(ids);
      ids.put(selfId, selfInt);
    }
    for (KeyspaceEntry entry : view.keyspaces().values()) {
      KeyspaceConfig config = entry.config();
      int number = entry.number();
      if (config.style() != Style.LEADERLESS) {
        continue;
      }
      LeaderlessService running = services.get(number);
      if (running != null
          && running.departing() == departing
          && running.members().equals(invert(ids))) {
        continue;
      }
      int owners = departing ? ids.size() - 1 : ids.size();
      if (owners < config.replicas()) {
        log.warn(
            "keyspace {}: N={} but only {} members own data; not served yet",
            entry.name(),
            config.replicas(),
            owners);
        continue;
      }
      if (running != null) {
        log.info(
            "keyspace {} ({}): members changed from {} to {}; restarting its service",
            number,
            entry.name(),
            running.members().values(),
            ids.keySet());
        running.close();
        services.remove(number);
        servicesRestarted.incrementAndGet();
      }
      startService(number, config, ids, departing);
      log.info(
          "keyspace {} ({}) served leaderless over members {}{}",
          number,
          entry.name(),
          ids,
          departing ? " (departing: this node owns nothing and hands off what it holds)" : "");
    }
  }

  private void startService(
      int number, KeyspaceConfig config, Map<String, Integer> ids, boolean departing) {
    membersByKeyspace.put(number, invert(ids));
    configs.put(number, config);
    startedMillis.put(number, clock.physicalMillis());
    services.put(
        number,
        new LeaderlessService(
            number,
            ids,
            selfId,
            coreConfig(config, schedule.intervalMillis() > 0),
            clock,
            dataDir.resolve("leaderless").resolve("keyspace-" + number + ".log"),
            loop,
            (to, frame) -> send(number, to, frame),
            schedule,
            departing));
  }

  /**
   * Restarts every service that persisted keys it does not own (see {@link
   * LeaderlessService#strayKeys}) and has run at least {@link #STRAY_CHECK_MILLIS}: the restart
   * turns them into hints for their owners.
   */
  private synchronized void restartServicesWithStrays() {
    for (Map.Entry<Integer, LeaderlessService> e : Map.copyOf(services).entrySet()) {
      LeaderlessService service = e.getValue();
      int number = e.getKey();
      if (service.strayKeys() == 0
          || clock.physicalMillis() - startedMillis.getOrDefault(number, 0L) < STRAY_CHECK_MILLIS) {
        continue;
      }
      log.info(
          "keyspace {}: {} keys reached this node after it stopped owning them; restarting its"
              + " service to hand them off",
          number,
          service.strayKeys());
      Map<String, Integer> ids = new java.util.TreeMap<>();
      service.members().forEach((id, member) -> ids.put(member, id));
      service.close();
      services.remove(number);
      servicesRestarted.incrementAndGet();
      startService(number, configs.get(number), ids, service.departing());
    }
  }

  /** Services replaced because their members changed. */
  private final AtomicLong servicesRestarted = new AtomicLong();

  /** Services replaced because their members changed (joins and leaves seen). */
  public long servicesRestarted() {
    return servicesRestarted.get();
  }

  /**
   * The members that own leaderless data in {@code view}, to their stable integer ids; null (and
   * logged) when two of them hash to the same integer, which the keyspace cannot tell apart.
   */
  static Map<String, Integer> placementIds(ClusterView view) {
    Map<String, Integer> ids = new java.util.TreeMap<>();
    java.util.Set<Integer> seen = new java.util.HashSet<>();
    for (Member member : view.members().values()) {
      MemberState state = member.state();
      // a LEAVING member is out already: its departure hands its keys to the owners that remain
      if (state != MemberState.UP && state != MemberState.DOWN) {
        continue;
      }
      int id = LeaderlessService.stableId(member.id());
      if (!seen.add(id)) {
        log.error(
            "members {} share the leaderless id {}; leaderless keyspaces are not served",
            ids.keySet(),
            id);
        return null;
      }
      ids.put(member.id(), id);
    }
    return ids;
  }

  private static Map<Integer, String> invert(Map<String, Integer> ids) {
    Map<Integer, String> byId = new java.util.TreeMap<>();
    ids.forEach((member, id) -> byId.put(id, member));
    return byId;
  }

  /** The core config for a keyspace's metadata config: N, R, W, sloppy, repair, conflicts. */
  static LeaderlessConfig coreConfig(KeyspaceConfig config) {
    return coreConfig(config, false);
  }

  /** As above; with {@code serverSchedulesAntiEntropy} the core starts no exchanges itself. */
  static LeaderlessConfig coreConfig(KeyspaceConfig config, boolean serverSchedulesAntiEntropy) {
    ConflictStrategy.Kind kind =
        config.conflicts().isEmpty()
            ? ConflictStrategy.Kind.SIBLINGS
            : config.conflicts().get(0).kind();
    ConflictMode mode =
        switch (kind) {
          case LWW -> ConflictMode.LWW;
          case CRDT -> ConflictMode.CRDT;
          default -> ConflictMode.SIBLINGS;
        };
    LeaderlessConfig defaults = LeaderlessConfig.defaults();
    return new LeaderlessConfig(
        config.replicas(),
        config.readQuorum(),
        config.writeQuorum(),
        config.sloppyQuorum(),
        config.readRepair(),
        config.blockingReadRepair(),
        mode,
        defaults.lwwTieBreak(),
        serverSchedulesAntiEntropy ? 0 : defaults.antiEntropyIntervalTicks(),
        defaults.requestTimeoutTicks(),
        defaults.pingIntervalTicks(),
        defaults.suspectAfterTicks(),
        defaults.handoffIntervalTicks(),
        defaults.hintsPerPeerMax(),
        defaults.siblingsMax(),
        defaults.merkleFanOut(),
        defaults.merkleDepth());
  }

  private void send(int keyspace, int to, byte[] frame) {
    // addresses from the newest view: a restarted member may listen on another port
    String memberId = membersByKeyspace.get(keyspace).get(to);
    if (memberId == null) {
      // a departing member (not in this keyspace's placement) handing off: answer it too
      memberId = memberWithStableId(latest, to);
    }
    Member member = memberId == null ? null : latest.members().get(memberId);
    if (member == null) {
      framesSendFailed.incrementAndGet();
      return;
    }
    peers
        .request(routes.host(member), routes.port(member), Frame.of(TYPE_LEADERLESS, frame))
        .whenComplete(
            (reply, error) -> {
              if (error != null) {
                framesSendFailed.incrementAndGet();
              }
            });
  }

  /** The member of {@code view} (any state) whose stable integer id is {@code id}, or null. */
  private static String memberWithStableId(ClusterView view, int id) {
    for (Member member : view.members().values()) {
      if (member.state() != MemberState.LEFT && LeaderlessService.stableId(member.id()) == id) {
        return member.id();
      }
    }
    for (Member member : view.members().values()) {
      if (LeaderlessService.stableId(member.id()) == id) {
        return member.id();
      }
    }
    return null;
  }

  /**
   * Hints this node's services still hold, summed: for a departing member, the keys not yet handed
   * off to their owners (0 once its departure is complete).
   */
  public int hintsHeld() {
    return services.values().stream().mapToInt(LeaderlessService::hintsHeld).sum();
  }

  /** Whether every service of this node runs as a departing member (it has left the placement). */
  public boolean departing() {
    return !services.isEmpty() && services.values().stream().allMatch(LeaderlessService::departing);
  }

  /** The service of {@code keyspace}, or null when it is not a served leaderless keyspace. */
  public LeaderlessService service(int keyspace) {
    return services.get(keyspace);
  }

  /** Whether this node serves {@code keyspace} leaderless. */
  public boolean serves(int keyspace) {
    return services.containsKey(keyspace);
  }

  /**
   * Whether {@code keyspace} is leaderless in the newest view, served here or not: its keys must
   * never fall through to the single-leader path.
   */
  public boolean isLeaderless(int keyspace) {
    if (services.containsKey(keyspace)) {
      return true;
    }
    ClusterView view = latest;
    KeyspaceEntry entry = view == null ? null : view.keyspaces().get(keyspace);
    return entry != null && entry.config().style() == Style.LEADERLESS;
  }

  /** Whether {@code frameType} is one of ours. */
  public static boolean handles(int frameType) {
    return frameType == TYPE_LEADERLESS || frameType == RepairFrames.TYPE_REPAIR;
  }

  /** Receives a peer's frame: handed to every service (each keeps its keyspace's messages). */
  public void onFrame(Frame request, FrameHandler.Responder responder) {
    if (request.type() == RepairFrames.TYPE_REPAIR) {
      onRepairFrame(request, responder);
      return;
    }
    for (LeaderlessService service : services.values()) {
      service.onFrame(request.payload());
    }
    responder.reply(new Frame(TYPE_LEADERLESS_ACK, request.correlationId(), new byte[0]));
  }

  private void onRepairFrame(Frame request, FrameHandler.Responder responder) {
    RepairFrames.Request asked;
    try {
      asked = RepairFrames.decodeRequest(request.payload());
    } catch (io.replicakv.core.util.CorruptEncodingException e) {
      responder.fail("bad repair request: " + e.getMessage());
      return;
    }
    localRepairStep(asked)
        .whenComplete(
            (payload, error) -> {
              if (error != null) {
                responder.fail("repair step failed: " + error.getMessage());
              } else {
                responder.reply(
                    new Frame(RepairFrames.TYPE_REPAIR_REPLY, request.correlationId(), payload));
              }
            });
  }

  /** Runs one step of a repair pass on this node; the encoded reply. */
  private java.util.concurrent.CompletableFuture<byte[]> localRepairStep(
      RepairFrames.Request asked) {
    LeaderlessService service = services.get(asked.keyspace());
    if (service == null) {
      return java.util.concurrent.CompletableFuture.completedFuture(RepairFrames.notServed());
    }
    return switch (asked.op()) {
      case COUNTERS ->
          java.util.concurrent.CompletableFuture.completedFuture(
              RepairFrames.encodeCounters(service.counters()));
      case START -> service.startExchanges(true).thenApply(RepairFrames::encodeStart);
      case ROOTS -> service.merkleRoots().thenApply(RepairFrames::encodeRoots);
    };
  }

  /** Repair passes running on this node as coordinator. */
  private final java.util.concurrent.atomic.AtomicInteger repairsRunning =
      new java.util.concurrent.atomic.AtomicInteger();

  /** Repair passes this node coordinated to the end. */
  private final AtomicLong repairsCompleted = new AtomicLong();

  /**
   * Runs an anti-entropy pass over {@code keyspace} on every member now (see {@link
   * LeaderlessRepair}); fails when this node does not serve it.
   */
  public java.util.concurrent.CompletableFuture<LeaderlessRepair.Report> repair(int keyspace) {
    LeaderlessService service = services.get(keyspace);
    if (service == null) {
      return java.util.concurrent.CompletableFuture.failedFuture(
          new IllegalArgumentException("keyspace " + keyspace + " is not served leaderless here"));
    }
    Map<Integer, String> ids = service.members();
    LeaderlessRepair.Members members =
        new LeaderlessRepair.Members() {
          @Override
          public Map<Integer, String> ids() {
            return ids;
          }

          @Override
          public java.util.concurrent.CompletableFuture<Map<String, Long>> counters(String member) {
            return ask(member, RepairFrames.Op.COUNTERS, keyspace)
                .thenApply(RepairFrames::decodeCounters);
          }

          @Override
          public java.util.concurrent.CompletableFuture<LeaderlessService.ExchangeStart> start(
              String member) {
            return ask(member, RepairFrames.Op.START, keyspace)
                .thenApply(RepairFrames::decodeStart);
          }

          @Override
          public java.util.concurrent.CompletableFuture<Map<Integer, Long>> roots(String member) {
            return ask(member, RepairFrames.Op.ROOTS, keyspace)
                .thenApply(RepairFrames::decodeRoots);
          }
        };
    repairsRunning.incrementAndGet();
    return LeaderlessRepair.run(keyspace, members, service.ownersByPartition(), loop, clock)
        .whenComplete(
            (report, error) -> {
              repairsRunning.decrementAndGet();
              if (error == null) {
                repairsCompleted.incrementAndGet();
              }
            });
  }

  /** One repair step on {@code member}: run here for this node, else over the peer transport. */
  private java.util.concurrent.CompletableFuture<byte[]> ask(
      String member, RepairFrames.Op op, int keyspace) {
    RepairFrames.Request request = new RepairFrames.Request(op, keyspace);
    if (member.equals(selfId)) {
      return localRepairStep(request);
    }
    Member address = latest.members().get(member);
    if (address == null) {
      return java.util.concurrent.CompletableFuture.failedFuture(
          new IllegalStateException("member " + member + " left the metadata"));
    }
    return peers
        .request(
            routes.host(address),
            routes.port(address),
            Frame.of(RepairFrames.TYPE_REPAIR, RepairFrames.encodeRequest(request)))
        .thenApply(Frame::payload);
  }

  /** Repair passes running with this node as coordinator. */
  public int repairsRunning() {
    return repairsRunning.get();
  }

  /** Repair passes this node coordinated to the end. */
  public long repairsCompleted() {
    return repairsCompleted.get();
  }

  /** Hints held here per keyspace and owner member id. */
  public Map<Integer, Map<String, Integer>> hintsByKeyspace() {
    Map<Integer, Map<String, Integer>> out = new java.util.TreeMap<>();
    for (Map.Entry<Integer, LeaderlessService> e : services.entrySet()) {
      out.put(e.getKey(), e.getValue().hintsByOwner());
    }
    return out;
  }

  /** Counts a plain GET refused because the key has siblings. */
  void countSiblingReadRefused() {
    siblingReadsRefused.incrementAndGet();
  }

  /** Frames to peers that failed (peer down or unreachable); the core sees them as lost. */
  public long framesSendFailed() {
    return framesSendFailed.get();
  }

  /** Plain GETs refused because the key had siblings. */
  public long siblingReadsRefused() {
    return siblingReadsRefused.get();
  }

  /** The core's counters by name, per served keyspace. */
  public Map<Integer, Map<String, Long>> countersByKeyspace() {
    Map<Integer, Map<String, Long>> out = new java.util.TreeMap<>();
    for (Map.Entry<Integer, LeaderlessService> e : services.entrySet()) {
      out.put(e.getKey(), e.getValue().counters());
    }
    return out;
  }

  @Override
  public synchronized void close() {
    straySweeper.shutdownNow();
    for (LeaderlessService service : services.values()) {
      service.close();
    }
    services.clear();
  }
}
