package io.replicakv.server.replication;

import io.netty.channel.EventLoop;
import io.replicakv.core.Envelope;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.quorum.Style;
import io.replicakv.core.single.PartitionController;
import io.replicakv.core.single.PartitionReplica;
import io.replicakv.core.single.SingleLeaderConfig;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.KeyspaceEntry;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import io.replicakv.server.replication.snapshot.SnapshotFrameCodec;
import io.replicakv.server.route.PeerRoutes;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Single-leader replication on a real node: hosts a {@link PartitionReplica} for every replica
 * group ({@link ReplicaGroups}) of every replicated keyspace that lists this node, and, while this
 * node leads the metadata, a {@link PartitionController} for every group of the cluster. All of it
 * runs on the node loop thread, which already orders clock, disk and network for client commands,
 * in the order the core's contract asks: input or tick, then persist what {@code ready()} holds,
 * apply what it committed, send its messages, complete client replies, {@code advance}.
 *
 * <p><b>Which keyspaces.</b> Keyspace 0 ({@code default}) and every created keyspace whose style is
 * single-leader. Keyspaces 1 to 15 (the built-in Redis databases) stay as they were: owned by the
 * ring owner, not replicated, because replicating sixteen empty keyspaces costs heartbeats for
 * nothing; create a keyspace to replicate more than keyspace 0.
 *
 * <p><b>Write path.</b> The leader runs the command as before (so {@code INCR} and {@code SET ...
 * GET} read the leader's state) and the dispatcher captures the logical mutations it applied; each
 * becomes an opaque {@code Operation.Write} stepped into the group's replica, and the client's
 * reply waits for the replica's answer: {@code Written} releases the command's own reply, {@code
 * Uncertain} becomes {@code -TRYAGAIN write outcome unknown}, never a false OK. A command is run at
 * all only when the replica would accept a write now ({@link #refusal}): leader, valid lease, not
 * draining, enough in-sync followers for {@code acks}, and its own epoch's start committed (so
 * every older entry was applied here before the first new one). The leader therefore applies a
 * write before it is committed (as a Redis master does before {@code WAIT}); it skips the commit of
 * entries of epochs it led in this process, and every other committed entry is decoded with {@link
 * MutationCodec} and applied through {@link StorageEngine#apply} (so the node's own log and
 * snapshots keep working as before). The price, and what is not built: a write that the leader
 * applied but that never committed (it timed out and the leader then lost its epoch) stays in the
 * old leader's memory after its log entry is truncated; this is detected (divergent writes appear
 * on a group whose leader applied ahead) and logged as needing a partition snapshot, at the one
 * call site {@link #snapshotNeeded}.
 *
 * <p><b>Persistence.</b> Each hosted group keeps the core's records in its own small file, {@code
 * data-dir/replication/keyspace-K-group-G.log} (the {@link LeaderlessRecordLog} format: length,
 * CRC32C, payload; torn tail cut on open), replayed into the replica on restart. Records the core
 * asks to sync are forced to the device when the node runs {@code fsync always}; otherwise they are
 * written (surviving a process kill, not a power cut), the durability the operator chose for the
 * node's own log. Retention ({@code replication-log-retained-records}, the core's {@code
 * retainedEntries}) bounds both the replica's in-memory log and the file: once about twice the
 * retention has been appended, the file is rewritten as the replica's compacted records (its log
 * base as a snapshot point, then the retained tail; {@link GroupLogFiles#rewrite}: temporary file,
 * force, atomic rename, directory force). The base is at most the commit point minus the retention,
 * and every entry up to it was applied through the engine before the rewrite, so a restart that
 * replays the file starts after the base and re-applies only the tail (the mutations are absolute,
 * so re-applying entries the storage already holds ends in the same state, except that a {@code
 * RENAME} replayed over a later write of its source moves the newer value). A restarted follower
 * resumes from its own last LSN when its leader still holds the entries after it, and otherwise
 * gets a partition snapshot; it logs which.
 *
 * <p><b>Partition snapshots.</b> {@link io.replicakv.server.replication.snapshot.GroupSnapshots}
 * (peer frame type 27) ships a group's slots to a follower that needs entries its leader no longer
 * holds: behind retention, a new member of a re-formed group, or an epoch history the leader cannot
 * answer. Its class comment argues which LSN a snapshot stands for. While a transfer into a replica
 * runs, the replica's peer messages are dropped (the leader resends), so its log cannot move under
 * the install.
 *
 * <p><b>Controller.</b> Runs where {@code hostsController} says (the metadata leader). Its decision
 * for a new epoch is proposed as {@link MetadataChange.SetReplicaLeader} and announced only after
 * that committed; a refused proposal (another controller decided first) drops the controller, which
 * is rebuilt from the view. A controller built on a new host starts from the view's record and
 * waits a full failover timeout before it elects, so leases granted by the previous host have run
 * out. Messages for the controller ({@link ReplicaIds#CONTROLLER}) go to every other member, and
 * only the host steps them.
 *
 * <p><b>Ring changes.</b> Key moves stay with {@code KeyMover} (design step 9 is not built): a join
 * or leave changes which member holds which slots there, and here it re-forms the groups of the new
 * view ({@link GroupLogFiles}). A group keeps its log when its replicas are the same and it gained
 * no slots (a join only takes slots away). A group whose replicas changed, or that gained slots, is
 * re-formed: its old log is deleted, a member that replicated (with data) every slot of it in the
 * previous view starts after the formation point {@code 0:1}, a member that did not starts empty;
 * the elected leader (the highest LSN, so a holder) then sends each member without the data a
 * partition snapshot before it can count as in sync. A member formed without data leaves the
 * controller's fences unanswered for a failover timeout so that a holder wins the election ({@link
 * #holdsBackFence}).
 */
public final class ReplicationLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicationLoop.class);

  /**
   * Peer frame type carrying one {@link ReplicationFrameCodec} frame; answered with an empty one.
   */
  public static final int TYPE_REPLICATION = 26;

  /** Tick-rate error every node is assumed to stay within, in parts per million (1%). */
  public static final long DRIFT_PPM = 10_000;

  /** Messages one outgoing frame carries at most; a turn's batch for a peer is split past it. */
  static final int FRAME_MESSAGES_MAX = 256;

  /** Local deliveries one loop turn works through before it yields to other loop work. */
  static final int LOCAL_DELIVERIES_PER_TURN_MAX = 100_000;

  /**
   * Wall-clock settings, converted to ticks of {@code tickMillis}.
   *
   * @param tickMillis one core tick
   * @param failoverTimeoutMillis leader silence after which the controller elects another
   * @param leaseMillis how long a grant lets a leader serve; 0 means half the failover timeout
   * @param writeTimeoutMillis a write without its acks by then is answered "outcome unknown"
   * @param maxLagRecords a follower further behind leaves the in-sync set
   * @param maxLagMillis a follower silent for longer leaves the in-sync set
   * @param fsyncAlways force records the core asks to sync (the node's {@code fsync always})
   * @param retainedRecords log entries a replica keeps below its commit point (retention); a
   *     follower further behind gets a partition snapshot
   */
  public record Settings(
      long tickMillis,
      long failoverTimeoutMillis,
      long leaseMillis,
      long writeTimeoutMillis,
      long maxLagRecords,
      long maxLagMillis,
      boolean fsyncAlways,
      long retainedRecords) {
    public Settings {
      Check.argument(tickMillis >= 1, "tick %s ms", tickMillis);
      Check.argument(failoverTimeoutMillis > tickMillis, "failover %s ms", failoverTimeoutMillis);
      Check.argument(retainedRecords >= 1, "retained records %s", retainedRecords);
    }

    /** Settings with the default retention ({@code PartitionReplica.RETAINED_ENTRIES_DEFAULT}). */
    public Settings(
        long tickMillis,
        long failoverTimeoutMillis,
        long leaseMillis,
        long writeTimeoutMillis,
        long maxLagRecords,
        long maxLagMillis,
        boolean fsyncAlways) {
      this(
          tickMillis,
          failoverTimeoutMillis,
          leaseMillis,
          writeTimeoutMillis,
          maxLagRecords,
          maxLagMillis,
          fsyncAlways,
          PartitionReplica.RETAINED_ENTRIES_DEFAULT);
    }

    long ticks(long millis) {
      return Math.max(1, (millis + tickMillis - 1) / tickMillis);
    }

    long leaseTicks() {
      return ticks(leaseMillis > 0 ? leaseMillis : failoverTimeoutMillis / 2);
    }
  }

  /** One group of one keyspace. */
  public record GroupKey(int keyspace, int group) {}

  /** What INFO and /metrics show of one follower of a group this node leads. */
  public record FollowerStatus(
      String member,
      long matchOffset,
      long lagRecords,
      long lagBytes,
      long lagMillis,
      boolean inSync) {}

  /** What INFO and /metrics show of one hosted group. */
  public record GroupStatus(
      int keyspace,
      int group,
      int slots,
      String role,
      long epoch,
      String leader,
      String lastLsn,
      long commitOffset,
      long divergentWrites,
      List<FollowerStatus> followers) {}

  private final class Hosted {
    final ReplicaGroups.Group group;
    final SingleLeaderConfig config;
    LeaderlessRecordLog store;
    final PartitionReplica replica;
    final Path file;
    final Set<Integer> lackedDataAtFormation;
    final io.replicakv.core.msg.Lsn openedAt;
    final long installsAtOpen;

    /** Formed without the group's data: fence answers wait (see {@link #holdsBackFence}). */
    final long fenceQuietUntilNanos;

    boolean catchUpReported;
    long recordsSinceCompaction;
    final Set<Long> appliedAheadEpochs = new HashSet<>();
    final Map<Long, CompletableFuture<Reply>> waiting = new HashMap<>();
    final Map<Integer, Long> behindSinceMillis = new HashMap<>();
    long divergentSeen;

    /** Entries of the replica's divergent-writes list already in {@link #divergentFile}. */
    int divergentListed;

    /** Its last LSN when a new view re-formed or dropped it ({@link #sealFormerGroups}). */
    io.replicakv.core.msg.Lsn sealedAt;

    Hosted(
        ReplicaGroups.Group group,
        SingleLeaderConfig config,
        Path file,
        GroupLogFiles.Opened opened,
        Set<Integer> lackedDataAtFormation,
        boolean quiet) {
      this.group = group;
      this.config = config;
      // Follower reads are gated by the keyspace option in followerRead (the router sends reads
      // here only with it on), so an ALTER takes effect without rebuilding the replica.
      this.file = file;
      this.store = opened.store();
      this.lackedDataAtFormation = lackedDataAtFormation;
      this.replica =
          new PartitionReplica(
              selfReplicaId,
              config,
              true,
              opened.startAfter(),
              settings.retainedRecords(),
              opened.store().recovered());
      this.divergentSeen = replica.divergentWritesTotal();
      this.divergentListed = replica.divergentWrites().size();
      this.recordsSinceCompaction = opened.store().recovered().size();
      this.openedAt = replica.lastLsn();
      this.installsAtOpen = replica.snapshotsInstalled();
      this.fenceQuietUntilNanos =
          quiet
              ? System.nanoTime() + 1_000_000L * settings.failoverTimeoutMillis()
              : System.nanoTime();
    }
  }

  private static final class HostedController {
    final ReplicaGroups.Group group;
    final SingleLeaderConfig config;
    final PartitionController controller;
    boolean awaitingCommit;

    HostedController(
        ReplicaGroups.Group group, SingleLeaderConfig config, PartitionController controller) {
      this.group = group;
      this.config = config;
      this.controller = controller;
    }
  }

  /** The leader a command on a replicated slot must run on. */
  public record Target(int group, String leader) {}

  private final String selfId;
  private final int selfReplicaId;
  private final StorageEngine engine;
  private final Path dataDir;
  private final PeerClient peers;
  private final PeerRoutes routes;
  private final EventLoop loop;
  private final Settings settings;
  private final Function<MetadataChange, CompletableFuture<ClusterView>> proposer;
  private final BooleanSupplier hostsController;

  // Loop-thread state.
  private final Map<GroupKey, Hosted> hosted = new TreeMap<>(GROUP_ORDER);
  private final Map<GroupKey, HostedController> controllers = new TreeMap<>(GROUP_ORDER);
  private final Map<Integer, List<PartitionMessage>> outbox = new TreeMap<>();
  private final ArrayDeque<PartitionMessage> localInbox = new ArrayDeque<>();
  private Map<Integer, String> memberByReplicaId = Map.of();
  private ClusterView view;
  private boolean hadView;
  private long nextRequestId = 1;
  private boolean pumpScheduled;
  private boolean stopped;

  // Read from any thread.
  private volatile Map<Integer, ReplicaGroups> groupsByKeyspace = Map.of();
  private volatile List<GroupStatus> status = List.of();
  private final AtomicLong framesSent = new AtomicLong();
  private final AtomicLong framesSendFailed = new AtomicLong();
  private final AtomicLong framesCorrupt = new AtomicLong();
  private final AtomicLong messagesDropped = new AtomicLong();
  private final AtomicLong elections = new AtomicLong();
  private final AtomicLong snapshotsNeeded = new AtomicLong();
  private final AtomicLong divergentWrites = new AtomicLong();
  private final DivergentWritesFile divergentFile;

  /** Divergent writes found since start, per keyspace (kept when a replica starts over). */
  private final Map<Integer, Long> divergentByKeyspace =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final AtomicLong writesUncertain = new AtomicLong();
  private final AtomicLong writesRefused = new AtomicLong();
  private final AtomicLong logCompactions = new AtomicLong();
  private final io.replicakv.server.replication.snapshot.GroupSnapshots snapshots;
  private volatile Map<String, Long> snapshotCounters = Map.of();
  private volatile Map<String, String> snapshotTransfers = Map.of();

  private static final java.util.Comparator<GroupKey> GROUP_ORDER =
      java.util.Comparator.comparingInt(GroupKey::keyspace).thenComparingInt(GroupKey::group);

  public ReplicationLoop(
      String selfId,
      StorageEngine engine,
      Path dataDir,
      PeerClient peers,
      PeerRoutes routes,
      EventLoop loop,
      Settings settings,
      Function<MetadataChange, CompletableFuture<ClusterView>> proposer,
      BooleanSupplier hostsController) {
    this.selfId = selfId;
    this.selfReplicaId = ReplicaIds.of(selfId);
    this.engine = engine;
    this.dataDir = dataDir;
    this.divergentFile =
        new DivergentWritesFile(dataDir.resolve("replication").resolve("divergent-writes.log"));
    this.peers = peers;
    this.routes = routes;
    this.loop = loop;
    this.settings = settings;
    this.proposer = proposer;
    this.hostsController = hostsController;
    this.snapshots =
        new io.replicakv.server.replication.snapshot.GroupSnapshots(
            engine,
            new SnapshotHost(),
            System::currentTimeMillis,
            selfReplicaId,
            System.currentTimeMillis() << 12,
            io.replicakv.server.replication.snapshot.SnapshotSender.WINDOW_BYTES_DEFAULT,
            settings.retainedRecords());
    loop.scheduleAtFixedRate(
        () ->
            onLoop(
                () -> {
                  catchUpTicks();
                  snapshots.onTimer();
                  held.release();
                }),
        settings.tickMillis(),
        settings.tickMillis(),
        TimeUnit.MILLISECONDS);
  }

  /** Whether keyspace {@code entry} is replicated here (see the class comment). */
  public static boolean replicated(KeyspaceEntry entry) {
    return entry.config().style() == Style.SINGLE_LEADER
        && (entry.number() == 0 || entry.number() >= ClusterView.BUILT_IN_KEYSPACES);
  }

  // ---------------------------------------------------------------- inputs

  /** Acts on a new metadata version (any thread). */
  public void onView(ClusterView next) {
    loop.execute(() -> onLoop(() -> applyView(next)));
  }

  /** Receives a peer's frame (peer thread): answered at once, its messages stepped on the loop. */
  public void onFrame(Frame request, FrameHandler.Responder responder) {
    if (request.type() == SnapshotFrameCodec.FRAME_TYPE) {
      onSnapshotFrame(request, responder);
      return;
    }
    List<PartitionMessage> messages;
    try {
      messages = ReplicationFrameCodec.decode(request.payload());
    } catch (CorruptEncodingException e) {
      framesCorrupt.incrementAndGet();
      log.warn("dropping corrupt replication frame: {}", e.getMessage());
      responder.fail("corrupt replication frame: " + e.getMessage());
      return;
    }
    responder.reply(new Frame(TYPE_REPLICATION, request.correlationId(), new byte[0]));
    loop.execute(() -> onLoop(() -> localInbox.addAll(messages)));
  }

  /** Whether {@code frameType} is ours. */
  public static boolean handles(int frameType) {
    return frameType == TYPE_REPLICATION || frameType == SnapshotFrameCodec.FRAME_TYPE;
  }

  /** Whether commands on keys of {@code keyspace} go through replication. */
  public boolean replicates(int keyspace) {
    return groupsByKeyspace.containsKey(keyspace);
  }

  /**
   * Where a command on {@code slot} of a replicated {@code keyspace} must run: the group and its
   * leader as this node knows it (its own replica's view first, the metadata record otherwise; null
   * leader while none is known). Null when the keyspace is not replicated. Loop thread.
   */
  public Target target(int keyspace, int slot) {
    ReplicaGroups groups = groupsByKeyspace.get(keyspace);
    if (groups == null) {
      return null;
    }
    ReplicaGroups.Group group = groups.groupOfSlot(slot);
    if (group == null) {
      return null;
    }
    Hosted h = hosted.get(new GroupKey(keyspace, group.id()));
    if (h != null) {
      // A replica's own knowledge is newer than the metadata's (it hears Leadership first), and
      // two nodes that each trusted the other's older record would forward back and forth.
      return new Target(
          group.id(),
          h.replica.leaderId() < 0 ? null : memberByReplicaId.get(h.replica.leaderId()));
    }
    ClusterView v = view;
    ClusterView.PartitionState recorded = v == null ? null : v.replicaLeader(keyspace, group.id());
    String leader =
        recorded != null && group.replicas().contains(recorded.leader()) ? recorded.leader() : null;
    return new Target(group.id(), leader);
  }

  /**
   * Why this node must not run a command on {@code slot} now, as an error reply text, or null when
   * it may (it leads the slot's group and could accept a write, or serve a read, this instant).
   * Loop thread; a write that passes is accepted by {@link #replicate} in the same loop turn.
   */
  public String refusal(int keyspace, int slot, boolean write) {
    catchUpTicks();
    Hosted h = hostedFor(keyspace, slot);
    if (h == null) {
      return "TRYAGAIN this node holds no replica of slot " + slot + " of keyspace " + keyspace;
    }
    if (write) {
      String why = h.replica.writeRefusalReason();
      if (why != null) {
        writesRefused.incrementAndGet();
        return errorText(why, slot);
      }
    }
    if (!h.replica.servesLinearizableReads()) {
      return "TRYAGAIN leader of slot "
          + slot
          + " (epoch "
          + h.replica.epoch()
          + ") cannot serve yet: no valid lease, or its epoch start is not committed";
    }
    return null;
  }

  /**
   * Replicates the mutations a command applied on this leader (its {@link #refusal} was null in
   * this loop turn); completes with null once every one is acknowledged per {@code acks}, or with
   * the error reply text (outcome unknown, or refused).
   */
  public CompletableFuture<String> replicate(int keyspace, int slot, List<Mutation> mutations) {
    Hosted h = hostedFor(keyspace, slot);
    Check.state(h != null, "replicate on slot %s of keyspace %s not hosted", slot, keyspace);
    h.appliedAheadEpochs.add(h.replica.epoch());
    List<CompletableFuture<Reply>> replies = new ArrayList<>(mutations.size());
    for (Mutation mutation : mutations) {
      long id = nextRequestId++;
      CompletableFuture<Reply> reply = new CompletableFuture<>();
      h.waiting.put(id, reply);
      replies.add(reply);
      h.replica.step(
          new ClientRequest(
              0, id, new Operation.Write(keyText(mutation), MutationCodec.encode(mutation))));
    }
    schedulePump();
    return CompletableFuture.allOf(replies.toArray(new CompletableFuture<?>[0]))
        .thenApply(
            done -> {
              for (CompletableFuture<Reply> reply : replies) {
                switch (reply.join()) {
                  case Reply.Written written -> {}
                  case Reply.Uncertain uncertain -> {
                    writesUncertain.incrementAndGet();
                    return "TRYAGAIN write outcome unknown: "
                        + withMemberIds(uncertain.reason())
                        + " (the write may or may not be applied)";
                  }
                  case Reply.Rejected rejected -> {
                    return errorText(rejected.reason(), slot);
                  }
                  case Reply.Values values -> {
                    return "ERR unexpected read answer to a write";
                  }
                }
              }
              return null;
            });
  }

  private Hosted hostedFor(int keyspace, int slot) {
    ReplicaGroups groups = groupsByKeyspace.get(keyspace);
    ReplicaGroups.Group group = groups == null ? null : groups.groupOfSlot(slot);
    return group == null ? null : hosted.get(new GroupKey(keyspace, group.id()));
  }

  /** The core's refusal as a Redis error: its MOVED names a replica id, not slot host:port. */
  private String errorText(String reason, int slot) {
    String named = withMemberIds(reason);
    if (named.startsWith("MOVED ")) {
      return "TRYAGAIN leadership of slot " + slot + " moved (" + named.substring(6) + ")";
    }
    return named;
  }

  private static final java.util.regex.Pattern REPLICA_ID =
      java.util.regex.Pattern.compile("\\bn(\\d+)\\b");

  /** The core's texts name replicas "n<replica id>"; clients know members by their ids. */
  private String withMemberIds(String text) {
    return REPLICA_ID
        .matcher(text)
        .replaceAll(
            match -> {
              String member = null;
              try {
                member = memberByReplicaId.get(Integer.parseInt(match.group(1)));
              } catch (NumberFormatException e) {
                // not an id: leave it
              }
              return java.util.regex.Matcher.quoteReplacement(
                  member == null ? match.group() : member);
            });
  }

  /** The key a single-key mutation changes (a batch's keys share one group), or null. */
  private static byte[] keyOf(Mutation mutation) {
    return switch (mutation) {
      case Mutation.StringSet m -> m.key();
      case Mutation.Delete m -> m.key();
      case Mutation.Expire m -> m.key();
      case Mutation.HashSet m -> m.key();
      case Mutation.HashDelete m -> m.key();
      case Mutation.SetAdd m -> m.key();
      case Mutation.SetRemove m -> m.key();
      case Mutation.Rename m -> m.from();
      default -> null;
    };
  }

  private static String keyText(Mutation mutation) {
    byte[] key = keyOf(mutation);
    if (key == null) {
      key = new byte[0];
    }
    int length = Math.min(key.length, Operation.KEY_CHARS_MAX);
    return new String(key, 0, length, StandardCharsets.ISO_8859_1);
  }

  // ---------------------------------------------------------------- follower reads and sessions

  /**
   * How long a follower holds a read whose session token it has not applied yet, in milliseconds;
   * past it the read is answered {@code -TRYAGAIN} (the client retries, at the leader or later).
   */
  public static final long FOLLOWER_READ_WAIT_MILLIS = 1_000;

  private final AtomicLong followerReadsServed = new AtomicLong();
  private final AtomicLong followerReadsWaited = new AtomicLong();
  private final AtomicLong followerReadsRefused = new AtomicLong();

  /** Whether reads of {@code keyspace} may be answered by any replica (keyspace option). */
  public boolean followerReads(int keyspace) {
    ClusterView v = view;
    KeyspaceEntry entry = v == null ? null : v.keyspaces().get(keyspace);
    return entry != null && entry.config().followerReads() && replicates(keyspace);
  }

  /** Whether this node holds a replica of {@code slot}'s group. Loop thread. */
  public boolean hosts(int keyspace, int slot) {
    return hostedFor(keyspace, slot) != null;
  }

  /** The group of {@code slot} that this node holds a replica of; null if none. Loop thread. */
  public io.replicakv.server.session.SessionToken.Group groupHere(int keyspace, int slot) {
    Hosted h = hostedFor(keyspace, slot);
    return h == null
        ? null
        : new io.replicakv.server.session.SessionToken.Group(keyspace, h.group.id());
  }

  /**
   * The last LSN of this node's replica of {@code slot}'s group, ZERO if none: after a command ran
   * here on the leader, the session's position, covering every write the leader applied (the one
   * just stepped included, acknowledged or not). Loop thread.
   */
  public io.replicakv.core.msg.Lsn lastLsn(int keyspace, int slot) {
    Hosted h = hostedFor(keyspace, slot);
    return h == null ? io.replicakv.core.msg.Lsn.ZERO : h.replica.lastLsn();
  }

  /**
   * A read of {@code slot} answered by this node's replica from its applied state: completes (loop
   * thread) with the position of that state once it includes {@code token}, or with an error text
   * ({@link FollowerRead#error}) when the replica did not get there within {@link
   * #FOLLOWER_READ_WAIT_MILLIS} or cannot serve. Completed at once when the replica already applied
   * the token. The caller runs the read command when it completes without error, in the same loop
   * turn, so the state it reads is the one the position names.
   */
  public CompletableFuture<FollowerRead> followerRead(
      int keyspace, int slot, io.replicakv.core.msg.Lsn token) {
    catchUpTicks();
    Hosted h = hostedFor(keyspace, slot);
    if (h == null) {
      return CompletableFuture.completedFuture(
          new FollowerRead(
              null, "TRYAGAIN this node holds no replica of slot " + slot + " any more"));
    }
    pump(h); // apply what the replica committed, so the engine holds commitLsn
    schedulePump();
    if (h.replica.role() != PartitionReplica.Role.LEADER
        && token.offset() <= h.replica.commitOffset()) {
      followerReadsServed.incrementAndGet();
      return CompletableFuture.completedFuture(new FollowerRead(h.replica.commitLsn(), null));
    }
    followerReadsWaited.incrementAndGet();
    long id = nextRequestId++;
    CompletableFuture<Reply> reply = new CompletableFuture<>();
    h.waiting.put(id, reply);
    guarded(h, () -> h.replica.step(new ClientRequest(0, id, new Operation.Get("read"), token)));
    schedulePump();
    return reply.thenApply(
        answer ->
            switch (answer) {
              case Reply.Values values -> {
                followerReadsServed.incrementAndGet();
                yield new FollowerRead(values.sessionToken(), null);
              }
              case Reply.Rejected rejected -> {
                followerReadsRefused.incrementAndGet();
                yield new FollowerRead(
                    null,
                    "TRYAGAIN replica of slot "
                        + slot
                        + " on "
                        + selfId
                        + " has not applied the session token "
                        + token
                        + " (it committed "
                        + h.replica.commitLsn()
                        + "): "
                        + withMemberIds(rejected.reason()));
              }
              case Reply.Uncertain uncertain ->
                  new FollowerRead(null, "TRYAGAIN " + withMemberIds(uncertain.reason()));
              case Reply.Written written ->
                  new FollowerRead(null, "ERR unexpected write answer to a read");
            });
  }

  /**
   * The outcome of {@link #followerRead}: the position of the state to read, or why not.
   *
   * @param position LSN the replica's applied state includes (null on error)
   * @param error Redis error text (null when the read may run)
   */
  public record FollowerRead(io.replicakv.core.msg.Lsn position, String error) {}

  // ---------------------------------------------------------------- the loop

  private void onLoop(Runnable input) {
    if (stopped) {
      return;
    }
    try {
      input.run();
      pumpAll();
    } catch (RuntimeException e) {
      log.error("replication loop turn failed", e);
    }
  }

  private void schedulePump() {
    if (!pumpScheduled) {
      pumpScheduled = true;
      loop.execute(
          () -> {
            pumpScheduled = false;
            onLoop(() -> {});
          });
    }
  }

  /**
   * Brings the core's ticks up to the monotonic clock: one tick per {@code tickMillis} elapsed
   * since start, however late the timer ran. A replica gets every tick it missed before it answers
   * anything, so a process that was paused (SIGSTOP, a long GC) finds its lease expired before it
   * serves a command that waited in its socket. A controller gets at most {@link
   * #CONTROLLER_CATCH_UP_TICKS_MAX} per call: after a pause of its own it must not count the time
   * it could not hear heartbeats as the leaders' silence (counting fewer ticks only delays an
   * election, which is the safe direction for leases).
   */
  private void catchUpTicks() {
    long due = (System.nanoTime() - startNanos) / (settings.tickMillis() * 1_000_000L);
    long behind = due - ticksDone;
    if (behind <= 0) {
      return;
    }
    ticksDone = due;
    refreshControllers();
    for (Hosted h : List.copyOf(hosted.values())) {
      for (long i = 0; i < behind; i++) {
        guarded(h, h.replica::tick);
      }
    }
    long controllerTicks = Math.min(behind, CONTROLLER_CATCH_UP_TICKS_MAX);
    for (HostedController hc : controllers.values()) {
      for (long i = 0; i < controllerTicks; i++) {
        hc.controller.tick();
      }
    }
    switchover.onTick(controllerTicks);
    schedulePump();
  }

  /** Ticks a controller counts in one catch-up, at most (see {@link #catchUpTicks}). */
  static final long CONTROLLER_CATCH_UP_TICKS_MAX = 2;

  private final long startNanos = System.nanoTime();
  private long ticksDone;

  private void pumpAll() {
    int deliveries = 0;
    while (true) {
      while (!localInbox.isEmpty() && deliveries++ < LOCAL_DELIVERIES_PER_TURN_MAX) {
        deliver(localInbox.poll());
      }
      for (Hosted h : List.copyOf(hosted.values())) {
        pump(h);
      }
      for (Map.Entry<GroupKey, HostedController> e : List.copyOf(controllers.entrySet())) {
        pump(e.getKey(), e.getValue());
      }
      if (localInbox.isEmpty() || deliveries >= LOCAL_DELIVERIES_PER_TURN_MAX) {
        break;
      }
    }
    if (!localInbox.isEmpty()) {
      schedulePump();
    }
    flushOutbox();
    publishStatus();
  }

  private void deliver(PartitionMessage message) {
    GroupKey key = new GroupKey(message.keyspace(), message.partition());
    SingleLeaderMessage m = message.message();
    if (m.to() == ReplicaIds.CONTROLLER) {
      HostedController hc = controllers.get(key);
      if (hc == null) {
        return; // not the controller's host (any more): the sender broadcast it
      }
      switchover.onControllerInput(key, m);
      try {
        hc.controller.step(m);
      } catch (IllegalArgumentException e) {
        messagesDropped.incrementAndGet();
        log.debug("controller {} dropped {}: {}", key, m, e.getMessage());
      }
    } else if (m.to() == selfReplicaId) {
      Hosted h = hosted.get(key);
      if (h == null || snapshots.receiving(key.keyspace(), key.group()) || holdsBackFence(h, m)) {
        messagesDropped.incrementAndGet();
        return;
      }
      guarded(h, () -> h.replica.step(m));
    } else {
      messagesDropped.incrementAndGet();
    }
  }

  /**
   * Runs {@code input} on a hosted replica. A message the replica refuses as malformed (a sender
   * with another view of the replica set) is dropped; a broken invariant closes the replica, which
   * is rebuilt from its records by the next view.
   */
  private void guarded(Hosted h, Runnable input) {
    try {
      input.run();
    } catch (IllegalArgumentException e) {
      messagesDropped.incrementAndGet();
      log.debug("group {}/{} dropped input: {}", h.group.keyspace(), h.group.id(), e.getMessage());
    } catch (IllegalStateException e) {
      log.error(
          "group {}/{}: replica stopped on a broken invariant; rebuilt from its records",
          h.group.keyspace(),
          h.group.id(),
          e);
      GroupKey key = new GroupKey(h.group.keyspace(), h.group.id());
      close(h, "replica stopped: " + e.getMessage());
      hosted.remove(key);
      hosted.put(key, open(h.group, h.config));
    }
  }

  private void pump(Hosted h) {
    Ready ready = h.replica.ready();
    if (ready.isEmpty()) {
      return;
    }
    h.store.append(ready.records(), ready.syncBeforeSend() && settings.fsyncAlways());
    for (io.replicakv.core.CommittedEntry entry : ready.committed()) {
      if (entry.operation() instanceof Operation.Write write
          && !h.appliedAheadEpochs.contains(entry.epoch())) {
        engine.apply(MutationCodec.decode(write.payload()));
      }
    }
    h.recordsSinceCompaction += ready.records().size();
    if (h.recordsSinceCompaction > compactAfterRecords()) {
      compact(h);
    }
    for (Envelope envelope : ready.messages()) {
      if (envelope.message() instanceof SingleLeaderMessage.SnapshotNeeded needed) {
        snapshots.onSnapshotNeeded(h.group.keyspace(), h.group.id(), needed);
      }
      route(new GroupKey(h.group.keyspace(), h.group.id()), envelope);
    }
    for (ClientReply reply : ready.replies()) {
      CompletableFuture<Reply> waiting = h.waiting.remove(reply.requestId());
      if (waiting != null) {
        waiting.complete(reply.reply());
      }
    }
    h.replica.advance(ready);
    reportCatchUp(h);
    long divergent = h.replica.divergentWritesTotal();
    if (divergent > h.divergentSeen) {
      long cut = divergent - h.divergentSeen;
      h.divergentSeen = divergent;
      divergentByKeyspace.merge(h.group.keyspace(), cut, Long::sum);
      List<SingleLeaderMessage.Entry> kept = h.replica.divergentWrites();
      if (kept.size() > h.divergentListed) {
        divergentFile.record(
            h.group.keyspace(),
            h.group.id(),
            kept.subList(h.divergentListed, kept.size()),
            System.currentTimeMillis());
        h.divergentListed = kept.size();
      }
      divergentWrites.addAndGet(cut);
      log.warn(
          "group {}/{}: {} uncommitted writes truncated from this replica's log (divergent writes,"
              + " {} in total)",
          h.group.keyspace(),
          h.group.id(),
          cut,
          divergent);
      if (!h.appliedAheadEpochs.isEmpty()) {
        snapshotNeeded(
            h.group,
            "this node led the group and applied writes before they committed; "
                + cut
                + " of them were truncated, so its state holds values the group does not");
      }
    }
    String diverged = h.replica.committedStateDivergence();
    if (diverged != null && hosted.get(new GroupKey(h.group.keyspace(), h.group.id())) == h) {
      snapshotNeeded(
          h.group, "its committed state is not a prefix of the group's history (" + diverged + ")");
    }
  }

  /**
   * The loop's own case of a replica needing a partition snapshot: this node's storage holds values
   * the group's log does not (it led, applied writes before they committed, and they were then
   * truncated), which the log alone cannot repair. The replica is started over: its group's keys
   * are deleted here, its file keeps only its incarnation and promise (so it still refuses older
   * epochs), and the leader, finding its log empty, sends the group's whole state again: the log
   * from offset 1 when the group's log still starts there (then the log is the group's whole
   * history), else a partition snapshot. Until then it answers no Fence (it has the lowest LSN
   * anyway) for a failover timeout.
   */
  private void snapshotNeeded(ReplicaGroups.Group group, String why) {
    snapshotsNeeded.incrementAndGet();
    GroupKey key = new GroupKey(group.keyspace(), group.id());
    Hosted h = hosted.get(key);
    boolean reset = h != null && h.replica.role() != PartitionReplica.Role.LEADER;
    log.error(
        "group {}/{} ({} slots) on {} needs a partition snapshot from its leader: {}{}",
        group.keyspace(),
        group.id(),
        group.slotCount(),
        selfId,
        why,
        reset ? "; its keys are deleted here and its replica starts over" : "");
    if (!reset) {
      return;
    }
    List<PersistRecord> kept = h.replica.promiseRecords();
    close(h, "replica starts over: " + why);
    ReplicaGroups.Group current = h.group;
    ReplicaGroups groups = groupsByKeyspace.get(group.keyspace());
    if (groups != null && groups.groups().get(group.id()) != null) {
      current = groups.groups().get(group.id());
    }
    io.replicakv.server.replication.snapshot.SnapshotReceiver.clearSlots(
        engine, current.keyspace(), current.slots());
    LeaderlessRecordLog empty = GroupLogFiles.rewrite(h.file, h.store, kept);
    GroupLogFiles.Opened opened =
        new GroupLogFiles.Opened(empty, io.replicakv.core.msg.Lsn.ZERO, "started over", false);
    hosted.put(key, new Hosted(h.group, h.config, h.file, opened, new HashSet<>(), true));
  }

  private void pump(GroupKey key, HostedController hc) {
    if (hc.awaitingCommit) {
      return;
    }
    Ready ready = hc.controller.ready();
    if (ready.isEmpty()) {
      return;
    }
    PartitionController.Decision decided = null;
    for (PersistRecord record : ready.records()) {
      PartitionController.Decision decision = PartitionController.Decision.of(record);
      if (decision != null && decision.leader() >= 0) {
        decided = decision;
      }
    }
    if (decided == null) {
      ready.messages().forEach(envelope -> route(key, envelope));
      hc.controller.advance(ready);
      return;
    }
    String leader = memberByReplicaId.get(decided.leader());
    if (leader == null) {
      log.warn("group {}: controller chose unknown replica id {}", key, decided.leader());
      controllers.remove(key);
      return;
    }
    hc.awaitingCommit = true;
    long epoch = decided.epoch();
    proposer
        .apply(new MetadataChange.SetReplicaLeader(key.keyspace(), key.group(), leader, epoch))
        .whenComplete(
            (committed, error) ->
                loop.execute(
                    () ->
                        onLoop(
                            () -> {
                              hc.awaitingCommit = false;
                              if (controllers.get(key) != hc) {
                                return;
                              }
                              if (error != null) {
                                log.warn(
                                    "group {}/{}: leader {} for epoch {} not recorded ({});"
                                        + " controller rebuilt from the metadata",
                                    key.keyspace(),
                                    key.group(),
                                    leader,
                                    epoch,
                                    error.toString());
                                controllers.remove(key);
                                return;
                              }
                              elections.incrementAndGet();
                              log.info(
                                  "group {}/{}: {} leads epoch {} (recorded in metadata"
                                      + " version {})",
                                  key.keyspace(),
                                  key.group(),
                                  leader,
                                  epoch,
                                  committed.version());
                              ready.messages().forEach(envelope -> route(key, envelope));
                              hc.controller.advance(ready);
                            })));
  }

  private void route(GroupKey key, Envelope envelope) {
    PartitionMessage message =
        new PartitionMessage(key.keyspace(), key.group(), (SingleLeaderMessage) envelope.message());
    int to = envelope.to();
    if (to == ReplicaIds.CONTROLLER) {
      if (!controllers.isEmpty()) {
        localInbox.add(message);
        return;
      }
      for (Integer replicaId : memberByReplicaId.keySet()) {
        if (replicaId != selfReplicaId) {
          outbox.computeIfAbsent(replicaId, id -> new ArrayList<>()).add(message);
        }
      }
    } else if (to == selfReplicaId) {
      localInbox.add(message);
    } else {
      outbox.computeIfAbsent(to, id -> new ArrayList<>()).add(message);
    }
  }

  private void flushOutbox() {
    if (outbox.isEmpty()) {
      return;
    }
    for (Map.Entry<Integer, List<PartitionMessage>> batch : outbox.entrySet()) {
      String memberId = memberByReplicaId.get(batch.getKey());
      Member member = memberId == null || view == null ? null : view.members().get(memberId);
      // A member that left holds no replica, but a metadata voter that left may still lead the
      // metadata and so host every controller: the heartbeats and fence answers it needs must
      // reach it, or no group could elect after the leave.
      if (member == null
          || member.peerPort() == 0
          || (member.state() == MemberState.LEFT && !member.voter())) {
        messagesDropped.addAndGet(batch.getValue().size());
        continue;
      }
      List<PartitionMessage> messages = batch.getValue();
      for (int from = 0; from < messages.size(); from += FRAME_MESSAGES_MAX) {
        byte[] frame =
            ReplicationFrameCodec.encode(
                messages.subList(from, Math.min(messages.size(), from + FRAME_MESSAGES_MAX)));
        framesSent.incrementAndGet();
        peers
            .request(routes.host(member), routes.port(member), Frame.of(TYPE_REPLICATION, frame))
            .whenComplete(
                (reply, error) -> {
                  if (error != null) {
                    framesSendFailed.incrementAndGet();
                  }
                });
      }
    }
    outbox.clear();
  }

  // ---------------------------------------------------------------- views and hosting

  private void applyView(ClusterView next) {
    if (view != null && next.version() < view.version()) {
      return;
    }
    view = next;
    Map<Integer, String> byId = new TreeMap<>();
    for (Member member : next.members().values()) {
      String other = byId.put(ReplicaIds.of(member.id()), member.id());
      if (other != null) {
        log.error(
            "members {} and {} share replica id {}; their groups are not replicated",
            other,
            member.id(),
            ReplicaIds.of(member.id()));
      }
    }
    memberByReplicaId = byId;
    Map<Integer, ReplicaGroups> groups = new TreeMap<>();
    for (KeyspaceEntry entry : next.keyspaces().values()) {
      if (replicated(entry) && !next.ring().nodes().isEmpty()) {
        groups.put(entry.number(), ReplicaGroups.of(next, entry.number()));
      }
    }
    Map<Integer, ReplicaGroups> previousGroups = groupsByKeyspace;
    boolean sawViewBefore = hadView;
    hadView = true;
    sealFormerGroups(groups);
    Map<Integer, BitSet> heldSlots = heldSlotsByKeyspace();
    Map<Integer, List<SealedGroup>> sealed = sealedGroupsByKeyspace();
    groupsByKeyspace = groups;
    Set<GroupKey> wanted = new HashSet<>();
    for (ReplicaGroups keyspaceGroups : groups.values()) {
      for (ReplicaGroups.Group group : keyspaceGroups.groups().values()) {
        if (!group.replicas().contains(selfId)) {
          continue;
        }
        SingleLeaderConfig config = configOf(group);
        if (config == null) {
          continue;
        }
        GroupKey key = new GroupKey(group.keyspace(), group.id());
        wanted.add(key);
        Hosted existing = hosted.get(key);
        if (existing != null && existing.config.equals(config) && !gainsSlots(existing, group)) {
          continue;
        }
        if (existing != null) {
          close(existing, "replica set changed");
        }
        hosted.put(
            key,
            open(
                group,
                config,
                heldSlots.get(group.keyspace()),
                sealed.getOrDefault(group.keyspace(), List.of()),
                previousGroups.get(group.keyspace()),
                sawViewBefore));
        log.info(
            "group {}/{}: replica of {} slots, replicas {} acks {}",
            group.keyspace(),
            group.id(),
            group.slotCount(),
            group.replicas(),
            config.acks());
      }
    }
    for (Iterator<Map.Entry<GroupKey, Hosted>> it = hosted.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<GroupKey, Hosted> entry = it.next();
      if (!wanted.contains(entry.getKey())) {
        close(entry.getValue(), "this node no longer replicates the group");
        it.remove();
      }
    }
    refreshControllers();
  }

  private SingleLeaderConfig configOf(ReplicaGroups.Group group) {
    List<Integer> ids = new ArrayList<>();
    for (String member : group.replicas()) {
      int id = ReplicaIds.of(member);
      if (!member.equals(memberByReplicaId.get(id)) || ids.contains(id)) {
        return null;
      }
      ids.add(id);
    }
    KeyspaceEntry entry = view.keyspaces().get(group.keyspace());
    long lease = settings.leaseTicks();
    try {
      return new SingleLeaderConfig(
          ids,
          ReplicaIds.CONTROLLER,
          entry.config().acks(),
          lease,
          settings.ticks(settings.failoverTimeoutMillis()),
          DRIFT_PPM,
          Math.max(1, lease / 4),
          settings.ticks(settings.writeTimeoutMillis()),
          settings.maxLagRecords(),
          settings.ticks(settings.maxLagMillis()),
          settings.ticks(FOLLOWER_READ_WAIT_MILLIS));
    } catch (IllegalArgumentException e) {
      log.warn(
          "group {}/{} replicas {}: not replicated: {}",
          group.keyspace(),
          group.id(),
          group.replicas(),
          e.getMessage());
      return null;
    }
  }

  /** Opens a replica resuming its own log (its members file matches the group). */
  private Hosted open(ReplicaGroups.Group group, SingleLeaderConfig config) {
    return open(group, config, null, List.of(), null, true);
  }

  /**
   * Opens the replica of {@code group}: resumed from its log when the log belongs to this replica
   * set and these slots, else re-formed (see {@link GroupLogFiles}) as a holder of the data when
   * {@code heldSlots} (slots of this keyspace whose data this node held) covers the group.
   */
  private Hosted open(
      ReplicaGroups.Group group,
      SingleLeaderConfig config,
      BitSet heldSlots,
      List<SealedGroup> sealed,
      ReplicaGroups previousGroups,
      boolean sawViewBefore) {
    Path file =
        dataDir
            .resolve("replication")
            .resolve("keyspace-" + group.keyspace() + "-group-" + group.id() + ".log");
    boolean holder = heldSlots != null && covers(heldSlots, group.slots());
    GroupLogFiles.Opened opened =
        GroupLogFiles.open(file, group, holder ? formationPoint(group, sealed) : null);
    Set<Integer> lacking = opened.formed() ? lackingMembers(group, previousGroups) : Set.of();
    // Could another member hold the data? Not in a keyspace new in this view, not alone.
    boolean mayHaveHolders =
        group.replicas().size() > 1 && (!sawViewBefore || previousGroups != null);
    boolean quiet =
        opened.formed()
            && opened.startAfter().equals(io.replicakv.core.msg.Lsn.ZERO)
            && mayHaveHolders;
    Hosted h = new Hosted(group, config, file, opened, new HashSet<>(lacking), quiet);
    if (opened.formed()) {
      // The formation point must survive a restart: the log starts with it.
      h.store.append(h.replica.compactedRecords(), true);
    }
    log.info(
        "group {}/{}: log {} at {} (last LSN {}, {} records replayed){}",
        group.keyspace(),
        group.id(),
        opened.how(),
        h.replica.logBase(),
        h.replica.lastLsn(),
        opened.store().recovered().size(),
        lacking.isEmpty() ? "" : "; members without the data of some slots: " + names(lacking));
    return h;
  }

  private String names(Set<Integer> replicaIds) {
    List<String> out = new ArrayList<>();
    for (int id : replicaIds) {
      out.add(memberByReplicaId.getOrDefault(id, "n" + id));
    }
    return String.join(",", out);
  }

  private static boolean covers(BitSet held, BitSet wanted) {
    BitSet missing = (BitSet) wanted.clone();
    missing.andNot(held);
    return missing.isEmpty();
  }

  private static boolean gainsSlots(Hosted existing, ReplicaGroups.Group group) {
    return !covers(existing.group.slots(), group.slots());
  }

  /**
   * A group this node hosted in the previous view, as it stood when the view changed: its slots and
   * the last LSN of its log, every entry of which its storage then held (see {@link
   * #sealFormerGroups}).
   */
  private record SealedGroup(BitSet slots, io.replicakv.core.msg.Lsn lastLsn) {}

  /**
   * Makes the storage of every group that the new view re-forms or takes away (and, for a group
   * that keeps its replicas but gives slots to a new group, of those slots) hold the group's whole
   * log here, not only its committed part: a follower applies an entry only once it hears that it
   * committed, so at a view change its log can hold entries that were acknowledged to a client (a
   * leader counted this follower's copy) and are not in its storage yet. The group is about to lose
   * its log (re-formed) and its leader, so nobody would tell it they committed; a holder that then
   * led the re-formed group would lack them. Applying the whole log is what a new leader of the
   * same group would do by committing its own epoch; an uncommitted tail that another holder lacks
   * or has differently is settled by the re-formed group's election, which elects the holder whose
   * sealed log is furthest on ({@link GroupLogFiles#formationPoint}); the others get a partition
   * snapshot from it. Entries of epochs this node led were applied when it ran them.
   */
  private void sealFormerGroups(Map<Integer, ReplicaGroups> next) {
    for (Hosted h : hosted.values()) {
      h.sealedAt = null;
    }
    for (Hosted h : hosted.values()) {
      ReplicaGroups keyspaceGroups = next.get(h.group.keyspace());
      ReplicaGroups.Group group =
          keyspaceGroups == null ? null : keyspaceGroups.groups().get(h.group.id());
      SingleLeaderConfig config =
          group == null || !group.replicas().contains(selfId) ? null : configOf(group);
      boolean resumed = config != null && h.config.equals(config) && !gainsSlots(h, group);
      if (snapshots.receiving(h.group.keyspace(), h.group.id())) {
        continue;
      }
      // A resumed group that gives slots away (a join splits its range) seals only the entries of
      // the slots that leave it: the group goes on and applies the rest when they commit.
      BitSet leaving = null;
      if (resumed) {
        leaving = (BitSet) h.group.slots().clone();
        leaving.andNot(group.slots());
        if (leaving.isEmpty()) {
          continue;
        }
      }
      pump(h);
      long applied = 0;
      for (long offset = Math.max(h.replica.commitOffset() + 1, h.replica.logFirstOffset());
          offset <= h.replica.lastLsn().offset();
          offset++) {
        SingleLeaderMessage.Entry entry = h.replica.entryAt(offset);
        if (entry.operation() instanceof Operation.Write write
            && !h.appliedAheadEpochs.contains(entry.epoch())) {
          Mutation mutation = MutationCodec.decode(write.payload());
          byte[] key = keyOf(mutation);
          if (leaving != null
              && key != null
              && !leaving.get(io.replicakv.core.ring.Slots.slot(key))) {
            continue;
          }
          engine.apply(mutation);
          applied++;
        }
      }
      h.sealedAt = h.replica.lastLsn();
      if (applied > 0) {
        log.info(
            "group {}/{}: sealed at {} for the new view: applied {} logged writes past the commit"
                + " point {} (its log ends with the group's history here)",
            h.group.keyspace(),
            h.group.id(),
            h.sealedAt,
            applied,
            h.replica.commitOffset());
      }
    }
  }

  /** Per keyspace, the groups sealed by {@link #sealFormerGroups} that held data. */
  private Map<Integer, List<SealedGroup>> sealedGroupsByKeyspace() {
    Map<Integer, List<SealedGroup>> sealed = new HashMap<>();
    for (Hosted h : hosted.values()) {
      if (h.sealedAt != null && h.sealedAt.offset() > 0) {
        sealed
            .computeIfAbsent(h.group.keyspace(), k -> new ArrayList<>())
            .add(new SealedGroup(h.group.slots(), h.sealedAt));
      }
    }
    return sealed;
  }

  /** A holder's formation point: ranked by the sealed groups its slots came from. */
  private static io.replicakv.core.msg.Lsn formationPoint(
      ReplicaGroups.Group group, List<SealedGroup> sealed) {
    List<io.replicakv.core.msg.Lsn> positions = new ArrayList<>();
    for (SealedGroup former : sealed) {
      if (former.slots().intersects(group.slots())) {
        positions.add(former.lastLsn());
      }
    }
    return GroupLogFiles.formationPoint(positions);
  }

  /** Per keyspace, the slots of the groups this node hosts with data (a log past offset 0). */
  private Map<Integer, BitSet> heldSlotsByKeyspace() {
    Map<Integer, BitSet> held = new HashMap<>();
    for (Hosted h : hosted.values()) {
      if (h.replica.lastLsn().offset() > 0
          && !snapshots.receiving(h.group.keyspace(), h.group.id())) {
        held.computeIfAbsent(h.group.keyspace(), k -> new BitSet()).or(h.group.slots());
      }
    }
    return held;
  }

  /**
   * Members of {@code group} that did not replicate some of its slots in the previous view: they
   * lack data and get a snapshot. Empty when there is no previous view of the keyspace.
   */
  private Set<Integer> lackingMembers(ReplicaGroups.Group group, ReplicaGroups previousGroups) {
    Set<Integer> lacking = new HashSet<>();
    if (previousGroups == null) {
      return lacking;
    }
    Set<Integer> previousIds = new HashSet<>();
    BitSet slots = group.slots();
    for (int slot = slots.nextSetBit(0); slot >= 0; slot = slots.nextSetBit(slot + 1)) {
      ReplicaGroups.Group before = previousGroups.groupOfSlot(slot);
      if (before == null) {
        continue;
      }
      if (previousIds.add(before.id())) {
        for (String member : group.replicas()) {
          if (!before.replicas().contains(member)) {
            lacking.add(ReplicaIds.of(member));
          }
        }
      }
    }
    return lacking;
  }

  /**
   * Logs once per opened replica how a follower caught up: from its own log (the leader still held
   * the entries after its last LSN) or by a partition snapshot (GroupSnapshots logs the reason).
   */
  private void reportCatchUp(Hosted h) {
    if (h.catchUpReported || h.replica.role() != PartitionReplica.Role.FOLLOWER) {
      return;
    }
    if (h.replica.snapshotsInstalled() > h.installsAtOpen) {
      h.catchUpReported = true;
      log.info(
          "group {}/{}: follower caught up by a partition snapshot at {}: its log ended at {},"
              + " before what the leader still held",
          h.group.keyspace(),
          h.group.id(),
          h.replica.logBase(),
          h.openedAt);
    } else if (h.openedAt.offset() > 0 && h.replica.commitOffset() > h.openedAt.offset()) {
      h.catchUpReported = true;
      log.info(
          "group {}/{}: follower resumed from its own last LSN {}: the leader still held the log"
              + " after it (commit now {})",
          h.group.keyspace(),
          h.group.id(),
          h.openedAt,
          h.replica.commitOffset());
    }
  }

  /**
   * Whether a replica formed without the group's data leaves the controller's {@code Fence}
   * unanswered for now. A member that holds the data starts after the formation point and one that
   * lacks it before, so the controller, which elects the highest LSN among the answers, prefers a
   * holder, but it decides on {@code N - acks} answers (one of two replicas with acks=1), and a
   * member without the data that answered first could win: the holders would then have to drop a
   * committed base, which the core refuses. So such a member answers no Fence for one failover
   * timeout after the formation (holders that are up answer first), and at once when it has data (a
   * log past offset 0). Not held back: a group of one, and the groups of a keyspace new in this
   * view. When no member held data (the first views of a new cluster) the group's first election
   * waits that long.
   */
  private boolean holdsBackFence(Hosted h, SingleLeaderMessage m) {
    return m instanceof SingleLeaderMessage.Fence
        && h.replica.lastLsn().offset() == 0
        && System.nanoTime() - h.fenceQuietUntilNanos < 0;
  }

  /** Rewrites the group's file as its base plus the retained tail (see {@link GroupLogFiles}). */
  private void compact(Hosted h) {
    List<PersistRecord> records = h.replica.compactedRecords();
    h.store = GroupLogFiles.rewrite(h.file, h.store, records);
    h.recordsSinceCompaction = records.size();
    logCompactions.incrementAndGet();
    log.debug(
        "group {}/{}: log compacted to {} records after {}",
        h.group.keyspace(),
        h.group.id(),
        records.size(),
        h.replica.logBase());
  }

  /** Records appended to a group file past which it is rewritten: about twice the retention. */
  private long compactAfterRecords() {
    return Math.max(COMPACT_AFTER_RECORDS_MIN, 2 * settings.retainedRecords());
  }

  /** A group file is never compacted below this many new records (rewrites cost a sync). */
  static final long COMPACT_AFTER_RECORDS_MIN = 256;

  // ---------------------------------------------------------------- partition snapshots

  /** A peer's snapshot frame (peer thread): taken on the loop, answered with its Ack. */
  private void onSnapshotFrame(Frame request, FrameHandler.Responder responder) {
    loop.execute(
        () -> {
          if (stopped) {
            responder.fail("node stopping");
            return;
          }
          try {
            byte[] ack = snapshots.onFrame(request.payload());
            responder.reply(new Frame(SnapshotFrameCodec.FRAME_TYPE, request.correlationId(), ack));
            schedulePump();
          } catch (CorruptEncodingException e) {
            framesCorrupt.incrementAndGet();
            responder.fail("corrupt snapshot frame: " + e.getMessage());
          } catch (RuntimeException e) {
            log.error("snapshot frame failed", e);
            responder.fail("snapshot frame failed: " + e);
          }
        });
  }

  /** What {@link io.replicakv.server.replication.snapshot.GroupSnapshots} sees of this loop. */
  private final class SnapshotHost
      implements io.replicakv.server.replication.snapshot.GroupSnapshots.Host {
    @Override
    public PartitionReplica replica(int keyspace, int group) {
      Hosted h = hosted.get(new GroupKey(keyspace, group));
      return h == null ? null : h.replica;
    }

    @Override
    public BitSet slots(int keyspace, int group) {
      ReplicaGroups groups = groupsByKeyspace.get(keyspace);
      ReplicaGroups.Group g = groups == null ? null : groups.groups().get(group);
      return g == null ? null : g.slots();
    }

    @Override
    public String memberOf(int replicaId) {
      return memberByReplicaId.getOrDefault(replicaId, "n" + replicaId);
    }

    @Override
    public void send(
        int replicaId,
        byte[] frame,
        java.util.function.Consumer<byte[]> onReply,
        java.util.function.Consumer<String> onFailure) {
      String memberId = memberByReplicaId.get(replicaId);
      Member member = memberId == null || view == null ? null : view.members().get(memberId);
      if (member == null || member.peerPort() == 0 || member.state() == MemberState.LEFT) {
        loop.execute(() -> onLoop(() -> onFailure.accept("no address for " + memberOf(replicaId))));
        return;
      }
      // Sent after this loop turn's replication frames (flushOutbox), so that the follower has
      // seen the SnapshotNeeded that asked for this transfer before its Begin arrives.
      loop.execute(() -> sendSnapshotFrame(member, frame, onReply, onFailure));
    }

    private void sendSnapshotFrame(
        Member member,
        byte[] frame,
        java.util.function.Consumer<byte[]> onReply,
        java.util.function.Consumer<String> onFailure) {
      peers
          .request(
              routes.host(member),
              routes.port(member),
              Frame.of(SnapshotFrameCodec.FRAME_TYPE, frame))
          .whenComplete(
              (reply, error) ->
                  loop.execute(
                      () ->
                          onLoop(
                              () -> {
                                if (error != null) {
                                  onFailure.accept(error.toString());
                                } else if (reply.type() == Frame.TYPE_ERROR) {
                                  onFailure.accept(
                                      new String(reply.payload(), StandardCharsets.UTF_8));
                                } else {
                                  onReply.accept(reply.payload());
                                }
                              })));
    }

    @Override
    public void changed(int keyspace, int group) {
      schedulePump();
    }

    @Override
    public String formationReason(int keyspace, int group, int follower) {
      Hosted h = hosted.get(new GroupKey(keyspace, group));
      if (h == null || !h.lackedDataAtFormation.contains(follower)) {
        return null;
      }
      Long match = h.replica.followerMatchOffsets().get(follower);
      if (match != null && match > h.replica.logBase().offset()) {
        h.lackedDataAtFormation.remove(follower);
        return null;
      }
      return "new member of a re-formed group: it did not replicate some of the group's "
          + h.group.slotCount()
          + " slots before the ring change";
    }
  }

  private void close(Hosted h, String why) {
    for (CompletableFuture<Reply> waiting : h.waiting.values()) {
      waiting.complete(new Reply.Uncertain(why));
    }
    h.waiting.clear();
    h.store.close();
  }

  private void refreshControllers() {
    if (view == null) {
      return;
    }
    if (!hostsController.getAsBoolean()) {
      if (!controllers.isEmpty()) {
        log.info("no longer the metadata leader: stopping {} controllers", controllers.size());
        controllers.clear();
      }
      return;
    }
    Set<GroupKey> wanted = new HashSet<>();
    for (ReplicaGroups keyspaceGroups : groupsByKeyspace.values()) {
      for (ReplicaGroups.Group group : keyspaceGroups.groups().values()) {
        GroupKey key = new GroupKey(group.keyspace(), group.id());
        HostedController existing = controllers.get(key);
        if (existing != null && existing.group.replicas().equals(group.replicas())) {
          wanted.add(key);
          continue;
        }
        SingleLeaderConfig config = configOf(group);
        if (config == null) {
          continue;
        }
        wanted.add(key);
        ClusterView.PartitionState recorded = view.replicaLeader(key.keyspace(), key.group());
        List<PersistRecord> recovered = new ArrayList<>();
        if (recorded != null) {
          int leader =
              group.replicas().contains(recorded.leader()) ? ReplicaIds.of(recorded.leader()) : -1;
          recovered.add(new PartitionController.Decision(recorded.epoch(), leader).record());
        }
        controllers.put(
            key,
            new HostedController(
                group, config, new PartitionController(ReplicaIds.CONTROLLER, config, recovered)));
        log.info(
            "group {}/{}: controller started from {}",
            key.keyspace(),
            key.group(),
            recorded == null ? "no record (electing now)" : recorded);
      }
    }
    controllers.keySet().retainAll(wanted);
  }

  // ---------------------------------------------------------------- inspection

  private void publishStatus() {
    long now = System.currentTimeMillis();
    List<GroupStatus> out = new ArrayList<>(hosted.size());
    for (Hosted h : hosted.values()) {
      PartitionReplica r = h.replica;
      List<FollowerStatus> followers = new ArrayList<>();
      long last = r.lastLsn().offset();
      List<Integer> inSync = r.inSyncFollowerIds();
      for (Map.Entry<Integer, Long> match : r.followerMatchOffsets().entrySet()) {
        long lag = Math.max(0, last - match.getValue());
        long since =
            lag == 0 ? now : h.behindSinceMillis.computeIfAbsent(match.getKey(), id -> now);
        if (lag == 0) {
          h.behindSinceMillis.remove(match.getKey());
        }
        if (match.getValue() > r.logBase().offset()) {
          h.lackedDataAtFormation.remove(match.getKey()); // it has the data now
        }
        followers.add(
            new FollowerStatus(
                memberByReplicaId.getOrDefault(match.getKey(), "n" + match.getKey()),
                match.getValue(),
                lag,
                r.logBytesAfter(match.getValue()),
                now - since,
                inSync.contains(match.getKey())));
      }
      out.add(
          new GroupStatus(
              h.group.keyspace(),
              h.group.id(),
              h.group.slotCount(),
              r.role().name().toLowerCase(java.util.Locale.ROOT),
              r.epoch(),
              r.leaderId() < 0 ? "" : memberByReplicaId.getOrDefault(r.leaderId(), ""),
              r.lastLsn().epoch() + ":" + r.lastLsn().offset(),
              r.commitOffset(),
              r.divergentWritesTotal(),
              followers));
    }
    status = List.copyOf(out);
    snapshotCounters = snapshots.counters();
    snapshotTransfers = snapshots.transfers();
  }

  /** Running snapshot transfers from this node, by name, with their progress (any thread). */
  public Map<String, String> snapshotTransfers() {
    return snapshotTransfers;
  }

  /** Every hosted group as of the last loop turn (any thread). */
  public List<GroupStatus> status() {
    return status;
  }

  /** Counters by name, for INFO and /metrics (any thread). */
  public Map<String, Long> counters() {
    Map<String, Long> out = new java.util.LinkedHashMap<>();
    out.put("frames_sent", framesSent.get());
    out.put("frames_send_failed", framesSendFailed.get());
    out.put("frames_corrupt", framesCorrupt.get());
    out.put("messages_dropped", messagesDropped.get());
    out.put("leaders_recorded", elections.get());
    out.put("writes_uncertain", writesUncertain.get());
    out.put("writes_refused", writesRefused.get());
    out.put("divergent_writes", divergentWrites.get());
    out.put("snapshots_needed", snapshotsNeeded.get());
    out.put("follower_reads_served", followerReadsServed.get());
    out.put("follower_reads_waited", followerReadsWaited.get());
    out.put("follower_reads_refused", followerReadsRefused.get());
    out.put("log_compactions", logCompactions.get());
    out.put("commands_held", held.heldTotal());
    out.put("commands_held_expired", held.expiredTotal());
    out.put("commands_waiting", (long) held.size());
    out.putAll(snapshotCounters);
    return out;
  }

  /** Divergent writes found by this node's replicas since start, per keyspace (any thread). */
  public Map<Integer, Long> divergentWritesByKeyspace() {
    return Map.copyOf(divergentByKeyspace);
  }

  /** The divergent writes this node's replicas truncated, newest last (loop thread). */
  List<DivergentWritesFile.Row> divergentRows() {
    return divergentFile.rows();
  }

  /** Groups this node currently hosts a controller for (any thread; approximate). */
  public int controllersHosted() {
    return controllers.size();
  }

  // ---------------------------------------------------------------- switchover and admin

  private final Switchover switchover = new Switchover(this);

  /** Planned switchovers and preferred-leader return, hosted with the controllers. */
  Switchover switchover() {
    return switchover;
  }

  /** Switchover and preferred-leader counters of this node's controllers (any thread). */
  public Map<String, Long> switchoverCounters() {
    return switchover.counters();
  }

  /** Whether the controllers move leadership back to a group's first replica (default on). */
  public void setPreferredLeader(boolean on) {
    switchover.setPreferredLeader(on);
  }

  private final HeldCommands held = new HeldCommands(System::nanoTime);
  private volatile long holdMillis = HOLD_MILLIS_DEFAULT;

  /** The default of {@code replication-hold-ms}: under client (2 s) and forwarding timeouts. */
  public static final long HOLD_MILLIS_DEFAULT = 1_000;

  /** Commands waiting out a leader change (loop thread). */
  public HeldCommands held() {
    return held;
  }

  /** How long a command that meets a leader change waits ({@code replication-hold-ms}); 0: not. */
  public long holdMillis() {
    return holdMillis;
  }

  public void setHoldMillis(long millis) {
    Check.argument(millis >= 0, "hold %s ms", millis);
    this.holdMillis = millis;
  }

  /** The group holding {@code slot} of {@code keyspace} in this node's view, or -1. */
  public int groupIdOf(int keyspace, int slot) {
    ReplicaGroups groups = groupsByKeyspace.get(keyspace);
    ReplicaGroups.Group group = groups == null ? null : groups.groupOfSlot(slot);
    return group == null ? -1 : group.id();
  }

  String selfId() {
    return selfId;
  }

  Settings settings() {
    return settings;
  }

  EventLoop loop() {
    return loop;
  }

  PeerClient peers() {
    return peers;
  }

  PeerRoutes routes() {
    return routes;
  }

  /** The newest view acted on (loop thread). */
  ClusterView view() {
    return view;
  }

  /** Member id of a replica id, or null (loop thread). */
  String memberOf(int replicaId) {
    return memberByReplicaId.get(replicaId);
  }

  /** The groups of a replicated keyspace, or null (any thread). */
  ReplicaGroups groupsOf(int keyspace) {
    return groupsByKeyspace.get(keyspace);
  }

  /** Replicated keyspaces (any thread). */
  Set<Integer> replicatedKeyspaces() {
    return groupsByKeyspace.keySet();
  }

  /** The controller of {@code key} hosted here, or null (loop thread). */
  PartitionController controllerOf(GroupKey key) {
    HostedController hc = controllers.get(key);
    return hc == null ? null : hc.controller;
  }

  /** Whether the controller of {@code key} waits for its last decision to commit (loop thread). */
  boolean controllerRecording(GroupKey key) {
    HostedController hc = controllers.get(key);
    return hc != null && hc.awaitingCommit;
  }

  /** Groups whose controller this node hosts, in order (loop thread). */
  List<GroupKey> controlledGroups() {
    return List.copyOf(controllers.keySet());
  }

  /** This node's replica of {@code key}, or null (loop thread). */
  PartitionReplica replicaOf(GroupKey key) {
    Hosted h = hosted.get(key);
    return h == null ? null : h.replica;
  }

  /** Groups this node holds a replica of, in order (loop thread). */
  List<GroupKey> hostedGroups() {
    return List.copyOf(hosted.keySet());
  }

  /** Runs a turn of the loop soon: sends what a controller or replica was just asked to do. */
  void kick() {
    schedulePump();
  }

  @Override
  public void close() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Runnable shutdown =
        () -> {
          stopped = true;
          snapshots.close();
          for (Hosted h : hosted.values()) {
            close(h, "node stopping");
          }
          hosted.clear();
          controllers.clear();
          divergentFile.close();
          done.complete(null);
        };
    if (loop.inEventLoop()) {
      shutdown.run();
      return;
    }
    try {
      loop.execute(shutdown);
      done.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      stopped = true;
    } catch (Exception e) {
      log.warn("replication loop did not stop cleanly: {}", e.toString());
    }
  }
}
