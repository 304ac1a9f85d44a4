package io.replicakv.server.move;

import io.replicakv.core.ring.RingDiff;
import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.Check;
import io.replicakv.net.peer.Frame;
import io.replicakv.net.peer.FrameHandler;
import io.replicakv.net.peer.PeerClient;
import io.replicakv.server.cluster.ClusterView;
import io.replicakv.server.cluster.Member;
import io.replicakv.server.cluster.MemberState;
import io.replicakv.server.cluster.MetadataChange;
import io.replicakv.server.cluster.MetadataRejectedException;
import io.replicakv.server.route.PeerRoutes;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.HashValue;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import io.replicakv.storage.data.SetValue;
import io.replicakv.storage.data.StringValue;
import io.replicakv.storage.data.Value;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves keys when a member joins, leaves or is replaced: Redis Cluster's key-by-key migration,
 * adapted to a ring whose ownership lives in the metadata log, with Riak's plan and commit in
 * front.
 *
 * <p>Model. A node started with {@code join=} registers STAGED: it serves clients by forwarding and
 * owns nothing. A move is announced by a member's state: JOINING (CLUSTER COMMIT JOIN, or COMMIT
 * REPLACE, which also hands the new member the old one's ring tokens) or LEAVING (CLUSTER COMMIT
 * LEAVE). Every node that sees such a member computes, from the same metadata version, {@code
 * RingDiff.between(ringNow, ringAfterFlip)} ({@link ClusterView#afterFlip}); the moves whose source
 * is this node are its work. The source streams the current state of every key whose slot moves to
 * the new owner (peer frame {@link #TYPE_MOVE_BATCH}: mutations in {@link MutationCodec} form,
 * applied by the target through its {@link StorageEngine}, so they are logged and survive a
 * restart), then re-sends every key the change feed ({@link StorageEngine#readChanges}) shows
 * changed since the previous round, until a round finds at most {@link #FINAL_DELTA_KEYS_MAX} keys.
 * Then it fences (writes to the moving slots answer {@code -TRYAGAIN}), sends the last delta, and
 * once the target acknowledged it proposes {@code SourceReady(member, source)}. The metadata
 * records it; from that version on the source's moving slots are handed over: the router sends
 * their commands to the target (forwarded, or {@code -ASK} in redirect mode). The change that
 * records the last expected source also performs the flip (JOINING to UP, a replaced member to
 * LEFT, LEAVING to LEFT) in the same version, so no coordinator process has to be alive. When a
 * source sees the flip it lifts its fence and deletes the moved keys with logged deletes.
 *
 * <p>Invariant: no acknowledged write is lost. A write to a moving slot is accepted by the source
 * only before its fence, and every such write is in the change feed the last delta reads while
 * fenced; the target serves a slot only from the SourceReady on, which is proposed only after that
 * last delta was acknowledged, and the source never lifts its fence after proposing (only a flip or
 * an accepted cancel does, and a cancel is refused once any source handed over). After the flip a
 * node with a stale view still sends the command to the old owner, which forwards it again (the hop
 * count in the forward frame stops ping-pong between two stale views).
 *
 * <p>Failure cases. A copy starts with the targets deleting whatever they hold in the moving slots
 * (leftovers of a cancelled or restarted move cannot come back to life). A source that restarts
 * before its SourceReady was recorded copies again from the start; one that restarts after it waits
 * for the flip (its slots are served by the target meanwhile, so the move does not need it alive),
 * and one that restarts after the flip deletes the stale copies it kept, at start-up (below). A
 * restarted node acts only on metadata versions from one committed after its start ({@link
 * #startFrom}): replayed history must not restart a finished move, whose first step clears the
 * target. A target (the joiner) that restarts keeps what it received: its applies are logged,
 * sources resend what was not acknowledged, to its new addresses. A fenced source whose last delta
 * is not acknowledged within {@code move-fence-timeout-ms} ({@link #FENCE_TIMEOUT_MILLIS}) lifts
 * the fence, resends from where that delta started, and does not fence again until a batch reached
 * every target, so a dead target cannot keep slots unwritable. If the change feed was trimmed by a
 * snapshot, the copy restarts. Catch-up fences early when a delta stops shrinking (writes as fast
 * as the throttle).
 *
 * <p>Addressed move frames. Every batch and clear names the node it is meant for (id, client and
 * peer port as the sender's view records them, {@link #addressOf}), and a node refuses one that
 * names another process. A target that restarts listens on new ports; until every source has the
 * new address from the metadata it retries against the old one, and on a busy machine another
 * process (a restarted node of this cluster, or of another cluster on the same host) may already
 * listen there. Unaddressed, such a frame was applied by whoever answered: a batch added keys in
 * slots that node does not own (counted twice, and a later start-up cleanup deleting them could
 * delete the only copy of an acknowledged write), and a clear deleted keys it held. Refused, the
 * source retries until the metadata gives it the target's new address. Version-1 batches and clears
 * without the trailing name (older senders) are still applied.
 *
 * <p>Stale copies after a crash. A source that was down when its move flipped still holds the keys
 * it handed over. At start-up, with a view committed after its start, it deletes (logged deletes)
 * every key it holds in a slot whose owner in that view is another UP member, but only when that
 * view shows no running move at all (no JOINING or LEAVING member, no recorded handover), this node
 * is UP and has no outgoing move, and no clear or batch frame was applied here since the process
 * started. Why this cannot delete an owned or incoming key: ownership changes only at a flip, which
 * a view without a running move has none pending, so a slot another member owns in it is not this
 * node's, and the router forwards that slot's writes to the owner instead of applying them here.
 * Keys arrive for another member's slot only as a move's clear and batches, sent by a source after
 * it saw a newer view that starts the move; all of them, and this sweep, run on the node loop, so
 * either the sweep runs first (and the move's clear would have deleted those keys anyway) or a
 * frame ran first and the sweep keeps everything. Slots of a DOWN owner are kept: if that owner is
 * removed its slots pass to the survivors without a copy, and a sweep must not be what decides what
 * they lose. Keys are chosen by ring owner in every keyspace, the rule the delete at the flip uses:
 * in keyspaces without replication keys live only at their slot's ring owner. Keyspaces that
 * single-leader replication copies to every node of a replica group ({@link
 * #setReplicatedKeyspaces}) are skipped by both deletes: a follower's copy is not stale.
 *
 * <p>A node that starts without a freshly committed view (no metadata quorum in time) re-records
 * its member entry until one commits and sweeps from that view.
 *
 * <p>Limits. A source that is down before its handover keeps the move waiting (CLUSTER CANCEL still
 * works then). A source that crashes between proposing SourceReady and seeing its outcome, and
 * restarts so fast that the proposal commits after its restart, could start a new copy while the
 * target already serves its slots; the proposal is dropped with the crashed process, so this needs
 * the metadata leader to commit a dead client's request seconds later. FLUSHDB/FLUSHALL during a
 * move is refused. One move at a time (the metadata refuses a second). Handed-over slots whose
 * target is down answer TRYAGAIN (forwarding fails) until it returns. All state here is touched on
 * the node loop only.
 */
public final class KeyMover {
  private static final Logger log = LoggerFactory.getLogger(KeyMover.class);
  private volatile java.util.function.IntPredicate replicatedKeyspaces = ks -> false;

  /** Peer frame: a batch of mutations for the target to apply; answered by the reply type. */
  public static final int TYPE_MOVE_BATCH = 18;

  public static final int TYPE_MOVE_BATCH_REPLY = 19;

  // Frame types 20 and 21 carried the ready report of the coordinator design; never reuse them.

  /**
   * Peer frame: count this node's keys and bytes in slot ranges ({@code [u32 n]([u16 first][u16
   * last])*}, then optionally {@code [u8 reply version]}: the newest reply form the asker reads; a
   * node that ignores it answers version 1).
   */
  public static final int TYPE_MOVE_COUNT = 22;

  /**
   * Reply to {@link #TYPE_MOVE_COUNT}, per range in order. Version 1 (the request names none):
   * {@code [u64 keys]*}. Version 2: {@code [u8 2][u32 n]([u64 keys][u64 bytes])*}, bytes being the
   * data bytes of the storage's slot counters. The lengths (8n and 5 + 16n) never coincide, so an
   * asker tells them apart without trusting the version byte alone.
   */
  public static final int TYPE_MOVE_COUNT_REPLY = 23;

  /** Newest {@link #TYPE_MOVE_COUNT_REPLY} form this node writes and reads. */
  static final int COUNT_REPLY_VERSION = 2;

  /**
   * Peer frame: the target deletes (logged) every key it holds in these ranges (payload as {@link
   * #TYPE_MOVE_COUNT}), so leftovers of a cancelled or restarted move cannot come back to life.
   */
  public static final int TYPE_MOVE_CLEAR = 24;

  public static final int TYPE_MOVE_CLEAR_REPLY = 25;

  /** Keys visited per scan step of the bulk phase. */
  static final int SCAN_KEYS_PER_STEP = 256;

  /** A delta round at most this large is sent under the write fence. */
  static final int FINAL_DELTA_KEYS_MAX = 64;

  /** From this round on, a delta no smaller than the previous one fences (no progress). */
  static final int DELTA_ROUNDS_BEFORE_STALL_CHECK = 3;

  /** After this many delta rounds the source fences anyway (writes outrun the stream). */
  static final int DELTA_ROUNDS_MAX = 50;

  /** How long a source waits before proposing its SourceReady again after it was refused. */
  static final long READY_REPEAT_MILLIS = 1_000;

  /**
   * Default of {@code move-fence-timeout-ms}: a fenced source whose last delta is not acknowledged
   * within this lifts its fence and catches up again, so a dead target cannot keep slots
   * unwritable.
   */
  public static final long FENCE_TIMEOUT_MILLIS = 10_000;

  /** How long a failed batch waits before it is sent again. */
  static final long RETRY_DELAY_MILLIS = 200;

  /** Format version byte of a batch payload. */
  static final byte BATCH_FORMAT_VERSION = 1;

  /** Format version byte of a batch payload that names its target node. */
  static final byte BATCH_ADDRESSED_FORMAT_VERSION = 2;

  private enum Phase {
    BULK,
    DELTA,
    /** Writes refused; the last delta is in flight, then SourceReady is proposed. */
    FENCED,
    /** SourceReady recorded: the target serves the slots; waiting for the flip. */
    HANDED_OVER,
    DELETING
  }

  private final String selfId;
  private final StorageEngine engine;
  private final PeerClient peers;
  private final ScheduledExecutorService loop;
  private final Function<MetadataChange, CompletableFuture<ClusterView>> proposer;
  private final long throttleBytesPerSecond;
  private final MoveProgress progress;
  private final long fenceTimeoutMillis;

  private volatile PeerRoutes routes = PeerRoutes.DIRECT;
  private volatile boolean[] fencedSlots = new boolean[Slots.SLOT_COUNT];

  // source side (node loop only)
  private Outgoing outgoing;
  private ClusterView lastView;
  // views older than this are history (a restarted voter replays its metadata log): ignored
  private long freshFromVersion = Long.MAX_VALUE;

  // progress, read by metrics from any thread
  private volatile long keysSent;
  private volatile long bytesSent;
  private volatile long keysReceived;
  private volatile long keysDeleted;
  private volatile long movesCompleted;
  private volatile long fenceTimeouts;
  private volatile long staleCopiesDeleted;
  // a clear or batch frame was applied since this process started (node loop only): from then on
  // keys in other members' slots may be an incoming copy, so the start-up sweep keeps them
  private boolean moveFrameApplied;
  private volatile long keysRemaining;
  private volatile String status = "idle";

  /**
   * @param throttleBytesPerSecond most bytes per second this node streams to targets; 0 is
   *     unlimited
   * @param fenceTimeoutMillis how long a fenced source waits for its last delta's acknowledgement
   *     before it lifts the fence and catches up again
   */
  public KeyMover(
      String selfId,
      StorageEngine engine,
      PeerClient peers,
      ScheduledExecutorService loop,
      Function<MetadataChange, CompletableFuture<ClusterView>> proposer,
      long throttleBytesPerSecond,
      long fenceTimeoutMillis) {
    Check.argument(fenceTimeoutMillis > 0, "fence timeout %s ms <= 0", fenceTimeoutMillis);
    this.selfId = selfId;
    this.engine = engine;
    this.peers = peers;
    this.loop = loop;
    this.proposer = proposer;
    this.throttleBytesPerSecond = throttleBytesPerSecond;
    this.progress = new MoveProgress(throttleBytesPerSecond, System::nanoTime);
    this.fenceTimeoutMillis = fenceTimeoutMillis;
  }

  /** The outgoing move's planned and sent keys and bytes, for CLUSTER MOVEPROGRESS (any thread). */
  public MoveProgress progress() {
    return progress;
  }

  /** Where this node's move requests go for each member (the {@code peer-routes} setting). */
  public void setPeerRoutes(PeerRoutes routes) {
    this.routes = routes;
  }

  /**
   * Keyspaces whose keys this node may hold as a replica (single-leader replication): the start-up
   * sweep and the delete after a handover leave their keys alone. In those keyspaces a key lives on
   * every node of its replica group, not only at its slot's ring owner, so "another member owns
   * this slot" does not make a copy stale: deleting it deleted a follower's copy, which lost
   * acknowledged writes once that follower became leader (seen in the failover trials: a restarted
   * node swept the keys it followed and answered nil for them after its promotion).
   */
  public void setReplicatedKeyspaces(java.util.function.IntPredicate replicated) {
    this.replicatedKeyspaces = replicated;
  }

  /** How often a leaving node checks whether its leaderless handoff is done, in ms. */
  static final long HANDOFF_POLL_MILLIS = 200;

  /** A leaving node fences at the latest this long after its delta rounds began to wait, in ms. */
  static final long HANDOFF_WAIT_MAX_MILLIS = 10 * 60_000;

  private java.util.function.IntSupplier departureHints = () -> 0;

  /**
   * Hints this node still holds for other owners (its leaderless keyspaces). A leaving node keeps
   * its move in delta rounds (writes still served) until they are handed off, so that it does not
   * become LEFT, and stopped by its operator, while its leaderless keys exist only here; at most
   * {@link #HANDOFF_WAIT_MAX_MILLIS}, then it fences anyway and logs how many hints it still held.
   */
  public void setDepartureHints(java.util.function.IntSupplier hints) {
    this.departureHints = hints;
  }

  private boolean departureHandoffPending(Outgoing out) {
    if (!out.member.equals(selfId) || out.flipTo != MemberState.LEFT) {
      return false;
    }
    int hints = departureHints.getAsInt();
    if (hints <= 0) {
      return false;
    }
    long now = System.nanoTime();
    if (out.handoffWaitSinceNanos == 0) {
      out.handoffWaitSinceNanos = now;
      log.info("move of {}: waiting for {} leaderless hints to be handed off", out.member, hints);
    }
    if (now - out.handoffWaitSinceNanos > HANDOFF_WAIT_MAX_MILLIS * 1_000_000L) {
      log.warn(
          "move of {}: {} leaderless hints still held after {} s; fencing anyway (they are kept"
              + " and handed off while this node runs)",
          out.member,
          hints,
          HANDOFF_WAIT_MAX_MILLIS / 1000);
      return false;
    }
    status = "waiting for " + hints + " leaderless hints to be handed off before fencing";
    return true;
  }

  /** Times a fenced source lifted its fence because its last delta was not acknowledged. */
  public long fenceTimeouts() {
    return fenceTimeouts;
  }

  /** True when a write to {@code slot} must answer TRYAGAIN (any thread). */
  public boolean refusesWrite(int slot) {
    return fencedSlots[slot];
  }

  /** Keys this node streamed to targets so far. */
  public long keysSent() {
    return keysSent;
  }

  /** Payload bytes this node streamed to targets so far. */
  public long bytesSent() {
    return bytesSent;
  }

  /** Keys (mutations) this node applied as a move target. */
  public long keysReceived() {
    return keysReceived;
  }

  /** Stale copies of handed-over keys this node deleted at start-up ({@link #startFrom}). */
  public long staleCopiesDeleted() {
    return staleCopiesDeleted;
  }

  /** Moved keys this node deleted after a flip. */
  public long keysDeleted() {
    return keysDeleted;
  }

  /**
   * Keys the current move still has to send, as the last delta round found them (0 when idle or in
   * the bulk phase, whose remainder is not counted).
   */
  public long keysRemainingEstimate() {
    return keysRemaining;
  }

  /** Moves this node finished as a source. */
  public long movesCompleted() {
    return movesCompleted;
  }

  /** A one-line description of the current move, for /admin and CLUSTER MOVESTATUS. */
  public String status() {
    return status;
  }

  private static final class Outgoing {
    final String member;
    final MemberState flipTo;
    final String[] targetBySlot = new String[Slots.SLOT_COUNT];
    final Map<String, Member> targets = new HashMap<>();
    Phase phase = Phase.BULK;
    int keyspace;
    long cursor;
    long sinceSequence;
    int deltaRounds;
    long lastDeltaKeys = Long.MAX_VALUE;
    // change-feed position the current delta round started from (a timed-out fence resends it)
    long deltaStartSequence;
    // bumped when a fence times out: async steps of the abandoned attempt then stop
    int attempt;
    // after a fence timeout: no fence until a batch reached every target again
    boolean holdFence;
    // SourceReady proposed: from here on the fence is never lifted by a timeout
    boolean proposing;
    // a leaving node: when its delta rounds began to wait for its leaderless handoff (0: not)
    long handoffWaitSinceNanos;

    Outgoing(String member, MemberState flipTo) {
      this.member = member;
      this.flipTo = flipTo;
    }
  }

  /**
   * Starts acting on metadata versions from {@code fresh} on, a view committed after this node
   * started. Until then every view is ignored: a restarted node replays old versions, and acting on
   * the start of a move that finished long ago would clear keys its target now owns. Call on the
   * node loop.
   */
  public void startFrom(ClusterView fresh) {
    startFrom(fresh, false);
  }

  /**
   * {@link #startFrom(ClusterView)}; when {@code committedAfterStart} (the view was committed after
   * this process started, not read from a possibly stale local copy) it also deletes the stale
   * copies this node kept of slots it handed over while it was down ({@link #sweepStaleCopies}).
   * Call on the node loop.
   */
  public void startFrom(ClusterView fresh, boolean committedAfterStart) {
    freshFromVersion = fresh.version();
    onView(lastView != null && lastView.version() >= fresh.version() ? lastView : fresh);
    if (committedAfterStart) {
      sweepStaleCopies(lastView);
    }
  }

  /**
   * For a node that started without a freshly committed view: {@code fresh} was committed after its
   * start, so the start-up sweep runs now, from the newer of it and the last view seen. Call on the
   * node loop.
   */
  public void sweepAfterFreshView(ClusterView fresh) {
    sweepStaleCopies(lastView != null && lastView.version() >= fresh.version() ? lastView : fresh);
  }

  /**
   * Deletes, with logged deletes, the keys this node holds in slots that another UP member owns in
   * {@code view}, when no move is running at all: the copies a source kept because it was down when
   * its move flipped. Skipped (everything kept) when this node is not UP, when any member is
   * JOINING or LEAVING or any handover is recorded, when this node has an outgoing move, or when a
   * move frame (clear or batch) was already applied here since this process started. Returns the
   * keys deleted.
   */
  long sweepStaleCopies(ClusterView view) {
    if (view == null || outgoing != null || moveFrameApplied) {
      log.info("start-up: a move is under way here; stale copies, if any, are kept");
      return 0;
    }
    Member self = view.members().get(selfId);
    if (self == null || self.state() != MemberState.UP) {
      return 0;
    }
    for (Member m : view.members().values()) {
      if (m.state() == MemberState.JOINING
          || m.state() == MemberState.LEAVING
          || !view.handedOver(m.id()).isEmpty()) {
        log.info("start-up: the move of {} is running; stale copies, if any, are kept", m.id());
        return 0;
      }
    }
    int[] sweptSlot = new int[Slots.SLOT_COUNT];
    java.util.Arrays.fill(sweptSlot, -1);
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      Member owner = view.ownerOf(s);
      if (owner != null
          && !owner.id().equals(selfId)
          && owner.state() == MemberState.UP
          && view.handoverTarget(s) == null) {
        sweptSlot[s] = 0;
      }
    }
    List<Map.Entry<Integer, byte[]>> doomed = new ArrayList<>();
    // every keyspace, by ring owner: the same rule as the delete at the flip (deleteStep)
    java.util.function.IntPredicate replicated = replicatedKeyspaces;
    forEachKeyIn(
        sweptSlot,
        (ks, key, range) -> {
          if (!replicated.test(ks)) {
            doomed.add(Map.entry(ks, key.array()));
          }
        });
    for (Map.Entry<Integer, byte[]> e : doomed) {
      engine.apply(new Mutation.Delete(e.getKey(), e.getValue()));
    }
    engine.flush();
    staleCopiesDeleted += doomed.size();
    if (!doomed.isEmpty()) {
      log.info(
          "start-up: deleted {} stale copies of keys in slots other UP members own (metadata"
              + " version {})",
          doomed.size(),
          view.version());
    }
    return doomed.size();
  }

  /** Acts on a new metadata version; call on the node loop. */
  public void onView(ClusterView view) {
    if (lastView == null || view.version() > lastView.version()) {
      lastView = view;
    }
    if (view.version() < freshFromVersion || view != lastView) {
      return; // history, or older than a view already acted on
    }
    Member moving = null;
    for (Member m : view.members().values()) {
      if ((m.state() == MemberState.JOINING && m.peerPort() != 0)
          || m.state() == MemberState.LEAVING) {
        moving = m;
        break;
      }
    }
    if (outgoing != null && outgoing.phase != Phase.DELETING) {
      Member m = view.members().get(outgoing.member);
      boolean flipped = m == null || m.state() == outgoing.flipTo;
      boolean cancelled = m != null && !flipped && m.state() != expectedState(outgoing.flipTo);
      if (flipped || cancelled) {
        finishOutgoing(flipped);
      } else if (outgoing.phase != Phase.HANDED_OVER
          && view.handedOver(outgoing.member).contains(selfId)) {
        handedOver(outgoing);
      }
    }
    if (moving == null || outgoing != null) {
      return; // nothing to move, or one move at a time: the current one finishes first
    }
    MemberState flipTo = moving.state() == MemberState.JOINING ? MemberState.UP : MemberState.LEFT;
    List<RingDiff.SlotMove> moves;
    try {
      moves = RingDiff.between(view.ring(), view.afterFlip(moving.id()).ring());
    } catch (RuntimeException e) {
      log.warn("cannot plan the move of {}: {}", moving.id(), e.toString());
      return;
    }
    Outgoing out = new Outgoing(moving.id(), flipTo);
    for (RingDiff.SlotMove move : moves) {
      if (!move.fromNode().equals(selfId)) {
        continue;
      }
      Member target = view.members().get(move.toNode());
      if (target == null) {
        continue;
      }
      out.targets.put(target.id(), target);
      for (int s = move.firstSlot(); s <= move.lastSlot(); s++) {
        out.targetBySlot[s] = target.id();
      }
    }
    if (out.targets.isEmpty()) {
      return;
    }
    out.sinceSequence = engine.lastSequence();
    outgoing = out;
    progress.start(out.member, out.targets.keySet());
    if (view.handedOver(out.member).contains(selfId)) {
      // restarted after its SourceReady was recorded: the targets serve these slots already
      log.info(
          "move of {}: this node handed over before a restart; waiting for the flip", out.member);
      fence(out);
      handedOver(out);
      return;
    }
    log.info(
        "moving keys for {} ({}) to {} from sequence {}",
        out.member,
        flipTo == MemberState.UP ? "join" : "leave",
        out.targets.keySet(),
        out.sinceSequence);
    status = "bulk copy for " + out.member;
    clearTargets(out);
  }

  private void fence(Outgoing out) {
    boolean[] fenced = new boolean[Slots.SLOT_COUNT];
    for (int s = 0; s < Slots.SLOT_COUNT; s++) {
      fenced[s] = out.targetBySlot[s] != null;
    }
    fencedSlots = fenced;
  }

  /** SourceReady is recorded: writes stay refused here (the router sends them to the targets). */
  private void handedOver(Outgoing out) {
    out.phase = Phase.HANDED_OVER;
    progress.phase(MoveProgress.Phase.HANDED_OVER);
    keysRemaining = 0;
    status = "handed over to " + out.targets.keySet() + ", waiting for the flip of " + out.member;
    log.info("move of {}: slots handed over to {}", out.member, out.targets.keySet());
  }

  private static MemberState expectedState(MemberState flipTo) {
    return flipTo == MemberState.UP ? MemberState.JOINING : MemberState.LEAVING;
  }

  /** One step of the source's state machine; re-schedules itself until the fence is reached. */
  private void step(Outgoing out) {
    if (outgoing != out) {
      return;
    }
    switch (out.phase) {
      case BULK -> bulkStep(out);
      case DELTA -> deltaStep(out);
      case FENCED, HANDED_OVER, DELETING -> {}
    }
  }

  private void bulkStep(Outgoing out) {
    MemoryState state = engine.state();
    if (out.keyspace >= state.keyspaceCount()) {
      out.phase = Phase.DELTA;
      progress.phase(MoveProgress.Phase.DELTA);
      status = "catching up for " + out.member;
      deltaStep(out);
      return;
    }
    Map<String, List<Mutation>> batches = new HashMap<>();
    int[] keys = {0};
    long nowMillis = System.currentTimeMillis();
    int ks = out.keyspace;
    out.cursor =
        state.scan(
            ks,
            out.cursor,
            SCAN_KEYS_PER_STEP,
            (key, value) -> {
              String target = out.targetBySlot[Slots.slot(key.array())];
              if (target != null) {
                keys[0]++;
                currentState(
                    state,
                    ks,
                    key,
                    nowMillis,
                    batches.computeIfAbsent(target, t -> new ArrayList<>()));
              }
            });
    if (out.cursor == 0) {
      out.keyspace++;
    }
    send(out, batches, keys[0], () -> step(out));
  }

  /**
   * Starts (or restarts) the bulk phase: the targets first drop whatever they hold in the moving
   * slots, then every key is copied afresh from the change-feed position taken now.
   */
  private void clearTargets(Outgoing out) {
    out.phase = Phase.BULK;
    out.keyspace = 0;
    out.cursor = 0;
    out.sinceSequence = engine.lastSequence();
    progress.copyStarted(engine.state(), out.targetBySlot);
    List<CompletableFuture<Frame>> acks = new ArrayList<>();
    for (String targetId : out.targets.keySet()) {
      Member target = address(out, targetId);
      List<int[]> ranges = new ArrayList<>();
      for (int s = 0; s < Slots.SLOT_COUNT; s++) {
        if (target.id().equals(out.targetBySlot[s])) {
          if (!ranges.isEmpty() && ranges.getLast()[1] == s - 1) {
            ranges.getLast()[1] = s;
          } else {
            ranges.add(new int[] {s, s});
          }
        }
      }
      byte[] id = addressOf(target).getBytes(java.nio.charset.StandardCharsets.UTF_8);
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 4 * ranges.size() + 2 + id.length);
      b.putInt(ranges.size());
      for (int[] r : ranges) {
        b.putShort((short) r[0]).putShort((short) r[1]);
      }
      b.putShort((short) id.length).put(id); // the addressee: see misaddressed
      acks.add(
          peers.request(
              routes.host(target), routes.port(target), Frame.of(TYPE_MOVE_CLEAR, b.array())));
    }
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
        .whenComplete(
            (ok, error) -> {
              boolean failed = error != null || acks.stream().anyMatch(a -> a.join().isError());
              if (failed) {
                log.warn("move of {}: a target did not clear its slots; again", out.member);
                loop.schedule(
                    () -> {
                      if (outgoing == out) {
                        clearTargets(out);
                      }
                    },
                    RETRY_DELAY_MILLIS,
                    TimeUnit.MILLISECONDS);
                return;
              }
              loop.execute(() -> step(out));
            });
  }

  private void deltaStep(Outgoing out) {
    Set<Map.Entry<Integer, Bytes>> changed;
    out.deltaStartSequence = out.sinceSequence;
    try {
      changed = changedSince(out);
    } catch (IOException e) {
      // the log was trimmed past our position (a snapshot ran): copy everything again
      log.warn(
          "move of {}: change feed unavailable ({}); restarting the copy",
          out.member,
          e.toString());
      status = "restarting bulk copy for " + out.member;
      clearTargets(out);
      return;
    }
    out.deltaRounds++;
    keysRemaining = changed.size();
    // fence when the delta is small, or stops shrinking (writes arrive as fast as the throttle
    // lets changes out), or after too many rounds
    boolean stalled =
        out.deltaRounds >= DELTA_ROUNDS_BEFORE_STALL_CHECK && changed.size() >= out.lastDeltaKeys;
    out.lastDeltaKeys = changed.size();
    boolean awaitingHandoff = departureHandoffPending(out);
    boolean fence =
        !out.holdFence
            && !awaitingHandoff
            && (changed.size() <= FINAL_DELTA_KEYS_MAX
                || stalled
                || out.deltaRounds >= DELTA_ROUNDS_MAX);
    if (fence) {
      fence(out);
      out.phase = Phase.FENCED;
      progress.phase(MoveProgress.Phase.FENCED);
      status = "fenced, last delta for " + out.member;
      int attempt = out.attempt;
      loop.schedule(() -> onFenceTimeout(out, attempt), fenceTimeoutMillis, TimeUnit.MILLISECONDS);
      try {
        changed.addAll(changedSince(out)); // nothing new can arrive after this
      } catch (IOException e) {
        log.warn(
            "move of {}: change feed unavailable under the fence ({}); restarting",
            out.member,
            e.toString());
        fencedSlots = new boolean[Slots.SLOT_COUNT];
        status = "restarting bulk copy for " + out.member;
        clearTargets(out);
        return;
      }
    }
    Map<String, List<Mutation>> batches = new HashMap<>();
    long nowMillis = System.currentTimeMillis();
    MemoryState state = engine.state();
    for (Map.Entry<Integer, Bytes> e : changed) {
      String target = out.targetBySlot[Slots.slot(e.getValue().array())];
      currentState(
          state,
          e.getKey(),
          e.getValue(),
          nowMillis,
          batches.computeIfAbsent(target, t -> new ArrayList<>()));
    }
    if (out.holdFence) {
      // after a fence timeout: reach every target (an empty batch if need be) before fencing again
      for (String target : out.targets.keySet()) {
        batches.computeIfAbsent(target, t -> new ArrayList<>());
      }
    }
    Runnable next =
        fence
            ? () -> proposeReady(out)
            : () -> {
              out.holdFence = false;
              if (awaitingHandoff) {
                loop.schedule(() -> step(out), HANDOFF_POLL_MILLIS, TimeUnit.MILLISECONDS);
              } else {
                step(out);
              }
            };
    send(out, batches, changed.size(), next);
  }

  private Set<Map.Entry<Integer, Bytes>> changedSince(Outgoing out) throws IOException {
    Set<Map.Entry<Integer, Bytes>> changed = new LinkedHashSet<>();
    long upTo = engine.lastSequence();
    engine.readChanges(
        out.sinceSequence,
        (sequence, partition, m) -> {
          for (byte[] key : keysOf(m)) {
            if (out.targetBySlot[Slots.slot(key)] != null) {
              changed.add(Map.entry(m.keyspace(), Bytes.copyOf(key)));
            }
          }
        });
    out.sinceSequence = upTo;
    return changed;
  }

  private static List<byte[]> keysOf(Mutation m) {
    return switch (m) {
      case Mutation.StringSet s -> List.of(s.key());
      case Mutation.Delete d -> List.of(d.key());
      case Mutation.Expire e -> List.of(e.key());
      case Mutation.HashSet h -> List.of(h.key());
      case Mutation.HashDelete h -> List.of(h.key());
      case Mutation.SetAdd s -> List.of(s.key());
      case Mutation.SetRemove s -> List.of(s.key());
      case Mutation.Rename r -> List.of(r.from(), r.to());
      case Mutation.FlushKeyspace f -> List.of();
      case Mutation.FlushAll f -> List.of();
      case Mutation.Batch b -> b.parts().stream().flatMap(part -> keysOf(part).stream()).toList();
    };
  }

  /** The mutations that make a target's copy of one key equal to this node's (absent: delete). */
  static void currentState(
      MemoryState state, int keyspace, Bytes key, long nowMillis, List<Mutation> out) {
    byte[] k = key.array();
    Value value = state.get(keyspace, key);
    if (value == null || state.isExpired(keyspace, key, nowMillis)) {
      out.add(new Mutation.Delete(keyspace, k));
      return;
    }
    long expireAt = Math.max(0, state.expireAtMillis(keyspace, key));
    switch (value) {
      case StringValue s -> out.add(new Mutation.StringSet(keyspace, k, s.bytes(), expireAt));
      case HashValue h -> {
        out.add(new Mutation.Delete(keyspace, k));
        List<byte[]> fields = new ArrayList<>();
        h.fields()
            .forEach(
                (f, v) -> {
                  fields.add(f.array());
                  fields.add(v);
                });
        out.add(new Mutation.HashSet(keyspace, k, fields));
        if (expireAt > 0) {
          out.add(new Mutation.Expire(keyspace, k, expireAt));
        }
      }
      case SetValue s -> {
        out.add(new Mutation.Delete(keyspace, k));
        List<byte[]> members = new ArrayList<>();
        s.members().forEach((mem, present) -> members.add(mem.array()));
        out.add(new Mutation.SetAdd(keyspace, k, members));
        if (expireAt > 0) {
          out.add(new Mutation.Expire(keyspace, k, expireAt));
        }
      }
    }
  }

  /** A target's newest addresses (it may have restarted on other ports during the move). */
  private Member address(Outgoing out, String id) {
    Member m = lastView == null ? null : lastView.members().get(id);
    return m != null && m.peerPort() != 0 ? m : out.targets.get(id);
  }

  /** Sends one batch per target, waits for every acknowledgement, then runs {@code next}. */
  private void send(Outgoing out, Map<String, List<Mutation>> batches, int keys, Runnable next) {
    send(out, out.attempt, batches, keys, next);
  }

  /** {@link #send} for one attempt: stops when a fence timeout abandoned that attempt. */
  private void send(
      Outgoing out, int attempt, Map<String, List<Mutation>> batches, int keys, Runnable next) {
    if (outgoing != out || out.attempt != attempt) {
      return;
    }
    if (batches.isEmpty()) {
      loop.execute(next);
      return;
    }
    long startNanos = System.nanoTime();
    List<CompletableFuture<Frame>> acks = new ArrayList<>();
    long bytes = 0;
    for (Map.Entry<String, List<Mutation>> e : batches.entrySet()) {
      Member target = address(out, e.getKey());
      byte[] payload = encodeBatch(addressOf(target), e.getValue());
      bytes += payload.length;
      acks.add(
          peers.request(
              routes.host(target), routes.port(target), Frame.of(TYPE_MOVE_BATCH, payload)));
    }
    long sentBytes = bytes;
    CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
        .whenComplete(
            (ok, error) -> {
              boolean failed = error != null || acks.stream().anyMatch(a -> a.join().isError());
              if (failed) {
                log.warn(
                    "move of {}: a batch was not acknowledged ({}); sending it again",
                    out.member,
                    error);
                loop.schedule(
                    () -> send(out, attempt, batches, keys, next),
                    RETRY_DELAY_MILLIS,
                    TimeUnit.MILLISECONDS);
                return;
              }
              Runnable guarded =
                  () -> {
                    if (outgoing == out && out.attempt == attempt) {
                      next.run();
                    }
                  };
              keysSent += keys;
              bytesSent += sentBytes;
              // this callback runs on a transport thread; the progress belongs to the node loop
              loop.execute(
                  () -> {
                    if (outgoing == out) {
                      progress.onBatchesAcknowledged(keys, batches.values(), sentBytes);
                    }
                  });
              long delayMillis = 0;
              if (throttleBytesPerSecond > 0) {
                long budgetMillis = sentBytes * 1000 / throttleBytesPerSecond;
                long spentMillis = (System.nanoTime() - startNanos) / 1_000_000;
                delayMillis = Math.max(0, budgetMillis - spentMillis);
              }
              loop.schedule(guarded, delayMillis, TimeUnit.MILLISECONDS);
            });
  }

  /**
   * The last delta was acknowledged under the fence: record SourceReady in the metadata. From the
   * first proposal on the fence is never lifted by a timeout (the proposal may commit at any time,
   * and then the target serves writes), only by a cancel the metadata accepted.
   */
  private void proposeReady(Outgoing out) {
    if (outgoing != out || out.phase != Phase.FENCED) {
      return;
    }
    out.proposing = true;
    status = "fenced, recording the handover for " + out.member;
    proposer
        .apply(new MetadataChange.SourceReady(out.member, selfId))
        .whenComplete(
            (view, error) ->
                loop.execute(
                    () -> {
                      if (outgoing != out || out.phase != Phase.FENCED) {
                        return; // handed over, flipped or cancelled meanwhile
                      }
                      Throwable cause =
                          error instanceof java.util.concurrent.CompletionException
                              ? error.getCause()
                              : error;
                      if (cause == null
                          || (cause instanceof MetadataRejectedException
                              && String.valueOf(cause.getMessage())
                                  .contains("already handed over"))) {
                        handedOver(out);
                        return;
                      }
                      log.warn(
                          "move of {}: recording the handover failed ({}); again",
                          out.member,
                          cause.toString());
                      loop.schedule(
                          () -> proposeReady(out),
                          cause instanceof MetadataRejectedException
                              ? READY_REPEAT_MILLIS
                              : RETRY_DELAY_MILLIS,
                          TimeUnit.MILLISECONDS);
                    }));
  }

  /**
   * The fence went up {@link #fenceTimeoutMillis} ago; if the last delta is still not acknowledged
   * (the target is dead or cut off) and SourceReady was not proposed, lift the fence and go back to
   * delta rounds from where the unacknowledged round started.
   */
  private void onFenceTimeout(Outgoing out, int attempt) {
    if (outgoing != out || out.attempt != attempt || out.phase != Phase.FENCED || out.proposing) {
      return;
    }
    fenceTimeouts++;
    out.attempt++;
    fencedSlots = new boolean[Slots.SLOT_COUNT];
    out.phase = Phase.DELTA;
    out.sinceSequence = out.deltaStartSequence;
    out.holdFence = true;
    out.deltaRounds = 0;
    out.lastDeltaKeys = Long.MAX_VALUE;
    log.warn(
        "move of {}: the last delta was not acknowledged by {} within {} ms; lifting the write"
            + " fence and catching up again",
        out.member,
        out.targets.keySet(),
        fenceTimeoutMillis);
    status = "catching up again (fence timed out) for " + out.member;
    loop.schedule(() -> step(out), RETRY_DELAY_MILLIS, TimeUnit.MILLISECONDS);
  }

  /** The flip (or a cancel) was seen: lift the fence and, after a flip, delete the moved keys. */
  private void finishOutgoing(boolean flipped) {
    Outgoing out = outgoing;
    fencedSlots = new boolean[Slots.SLOT_COUNT];
    if (!flipped) {
      log.info("move of {} cancelled", out.member);
      outgoing = null;
      progress.finish(false);
      status = "idle";
      return;
    }
    out.phase = Phase.DELETING;
    progress.phase(MoveProgress.Phase.DELETING);
    status = "deleting moved keys of " + out.member;
    out.keyspace = 0;
    out.cursor = 0;
    deleteStep(out);
  }

  private void deleteStep(Outgoing out) {
    MemoryState state = engine.state();
    if (out.keyspace >= state.keyspaceCount()) {
      log.info("move of {} done: {} keys sent, {} deleted", out.member, keysSent, keysDeleted);
      if (outgoing == out) {
        outgoing = null;
      }
      movesCompleted++;
      progress.finish(true);
      keysRemaining = 0;
      status = "idle";
      if (lastView != null) {
        onView(lastView); // a move that waited for this one may start now
      }
      return;
    }
    if (replicatedKeyspaces.test(out.keyspace)) {
      // a replica's copies: this node may still follow (or lead) the keys' group
      out.keyspace++;
      out.cursor = 0;
      loop.execute(() -> deleteStep(out));
      return;
    }
    List<byte[]> doomed = new ArrayList<>();
    out.cursor =
        state.scan(
            out.keyspace,
            out.cursor,
            SCAN_KEYS_PER_STEP,
            (key, value) -> {
              if (out.targetBySlot[Slots.slot(key.array())] != null) {
                doomed.add(key.array());
              }
            });
    for (byte[] key : doomed) {
      engine.apply(new Mutation.Delete(out.keyspace, key));
    }
    keysDeleted += doomed.size();
    if (out.cursor == 0) {
      out.keyspace++;
    }
    engine.flush();
    loop.execute(() -> deleteStep(out));
  }

  /** True for the peer frame types {@link #onFrame} handles. */
  public static boolean handles(int frameType) {
    return frameType == TYPE_MOVE_BATCH
        || frameType == TYPE_MOVE_COUNT
        || frameType == TYPE_MOVE_CLEAR;
  }

  /** The peer handler for the batch, clear and count frames. */
  public void onFrame(Frame request, FrameHandler.Responder responder) {
    if (request.type() == TYPE_MOVE_BATCH) {
      List<Mutation> mutations;
      try {
        Batch batch = decodeAddressedBatch(request.payload());
        String refusal = misaddressed(batch.target());
        if (refusal != null) {
          log.warn(refusal);
          responder.fail(refusal);
          return;
        }
        mutations = batch.mutations();
      } catch (RuntimeException e) {
        responder.fail("bad move batch: " + e.getMessage());
        return;
      }
      loop.execute(
          () -> {
            moveFrameApplied = true;
            for (Mutation m : mutations) {
              engine.apply(m);
            }
            engine.flush();
            keysReceived += mutations.size();
            responder.reply(new Frame(TYPE_MOVE_BATCH_REPLY, request.correlationId(), new byte[0]));
          });
    } else if (request.type() == TYPE_MOVE_CLEAR) {
      loop.execute(
          () -> {
            long deleted;
            try {
              String refusal = misaddressed(clearTarget(request.payload()));
              if (refusal != null) {
                log.warn(refusal);
                responder.fail(refusal);
                return;
              }
              moveFrameApplied = true;
              deleted = deleteKeysIn(request.payload());
            } catch (RuntimeException e) {
              responder.fail("bad clear request: " + e.getMessage());
              return;
            }
            if (deleted > 0) {
              log.info("cleared {} leftover keys before receiving a move", deleted);
            }
            responder.reply(new Frame(TYPE_MOVE_CLEAR_REPLY, request.correlationId(), new byte[0]));
          });
    } else if (request.type() == TYPE_MOVE_COUNT) {
      loop.execute(
          () -> {
            byte[] answer;
            try {
              answer = countReply(engine.state(), request.payload());
            } catch (RuntimeException e) {
              responder.fail("bad count request: " + e.getMessage());
              return;
            }
            responder.reply(new Frame(TYPE_MOVE_COUNT_REPLY, request.correlationId(), answer));
          });
    } else {
      responder.fail("unknown move frame type " + request.type());
    }
  }

  /**
   * One range of a plan with the keys and data bytes its source holds there (key length plus value
   * data, from the source's slot counters); -1 for both when the source did not answer, bytes -1
   * alone when it answered in the version-1 form (keys only).
   */
  public record PlannedMove(
      int firstSlot, int lastSlot, String fromNode, String toNode, long keys, long bytes) {
    /** Slots in the range. */
    public int slotCount() {
      return lastSlot - firstSlot + 1;
    }
  }

  /**
   * The slot ranges that would move if {@code memberId} joined ({@code join}) or left: a join of an
   * unknown id plans with a placeholder member (ring tokens depend on the id only).
   *
   * @throws IllegalArgumentException when the member cannot make that change
   */
  public static List<RingDiff.SlotMove> plan(ClusterView view, String memberId, boolean join) {
    try {
      return planOrReject(view, memberId, join);
    } catch (MetadataRejectedException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  private static List<RingDiff.SlotMove> planOrReject(
      ClusterView view, String memberId, boolean join) {
    Member known = view.members().get(memberId);
    ClusterView after;
    if (join) {
      if (known == null) {
        after =
            view.apply(
                new MetadataChange.AddMember(
                    new Member(
                        memberId, "0.0.0.0", 0, 0, 0, 0, "site-1", "", MemberState.UP, false)));
      } else if (known.state() == MemberState.STAGED) {
        after =
            view.apply(new MetadataChange.SetMemberState(memberId, MemberState.JOINING))
                .afterFlip(memberId);
      } else if (known.state() == MemberState.JOINING) {
        after = view.afterFlip(memberId);
      } else {
        throw new IllegalArgumentException(
            memberId + " is " + known.state() + ", not staged or joining");
      }
    } else {
      if (known == null || !known.state().ownsSlots()) {
        throw new IllegalArgumentException(memberId + " owns no slots");
      }
      ClusterView leaving =
          known.state() == MemberState.LEAVING
              ? view
              : view.apply(new MetadataChange.SetMemberState(memberId, MemberState.LEAVING));
      after = leaving.apply(new MetadataChange.SetMemberState(memberId, MemberState.LEFT));
    }
    return RingDiff.between(view.ring(), after.ring());
  }

  /**
   * The plan of replacing {@code oldId} by the STAGED member {@code newId}, with key and byte
   * counts: only the old member's slots move, all to the new one.
   *
   * @throws IllegalArgumentException when the replacement cannot be committed
   */
  public CompletableFuture<List<PlannedMove>> planReplaceWithCounts(
      ClusterView view, String oldId, String newId) {
    ClusterView replacing;
    try {
      replacing = view.apply(new MetadataChange.ReplaceMember(oldId, newId));
    } catch (MetadataRejectedException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    // with the replacement committed the heir is JOINING: its join plan is exactly the replace
    return planWithCounts(replacing, newId, true);
  }

  /**
   * {@link #plan} with each source's key and byte counts per range (sources are asked over the peer
   * transport; this node answers its own on the node loop, from its slot counters). Completes on
   * any thread.
   */
  public CompletableFuture<List<PlannedMove>> planWithCounts(
      ClusterView view, String memberId, boolean join) {
    List<RingDiff.SlotMove> moves = plan(view, memberId, join);
    Map<String, List<RingDiff.SlotMove>> bySource = new java.util.TreeMap<>();
    for (RingDiff.SlotMove m : moves) {
      bySource.computeIfAbsent(m.fromNode(), k -> new ArrayList<>()).add(m);
    }
    Map<RingDiff.SlotMove, long[]> counts = new java.util.concurrent.ConcurrentHashMap<>();
    List<CompletableFuture<Void>> parts = new ArrayList<>();
    for (Map.Entry<String, List<RingDiff.SlotMove>> e : bySource.entrySet()) {
      List<RingDiff.SlotMove> ranges = e.getValue();
      byte[] request = encodeRanges(ranges);
      CompletableFuture<long[][]> answer;
      Member source = view.members().get(e.getKey());
      if (e.getKey().equals(selfId)) {
        answer = new CompletableFuture<>();
        CompletableFuture<long[][]> local = answer;
        loop.execute(
            () -> local.complete(decodeCounts(countReply(engine.state(), request), ranges.size())));
      } else if (source == null || source.peerPort() == 0) {
        answer = CompletableFuture.completedFuture(null);
      } else {
        answer =
            peers
                .request(
                    routes.host(source), routes.port(source), Frame.of(TYPE_MOVE_COUNT, request))
                .thenApply(f -> f.isError() ? null : decodeCounts(f.payload(), ranges.size()))
                .exceptionally(t -> null);
      }
      parts.add(
          answer.thenAccept(
              c -> {
                for (int i = 0; i < ranges.size(); i++) {
                  counts.put(ranges.get(i), c == null ? new long[] {-1, -1} : c[i]);
                }
              }));
    }
    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new))
        .thenApply(
            ok -> {
              List<PlannedMove> out = new ArrayList<>();
              for (RingDiff.SlotMove m : moves) {
                long[] c = counts.get(m);
                out.add(
                    new PlannedMove(
                        m.firstSlot(), m.lastSlot(), m.fromNode(), m.toNode(), c[0], c[1]));
              }
              return out;
            });
  }

  /** A {@link #TYPE_MOVE_COUNT} request asking for the version-2 reply. */
  static byte[] encodeRanges(List<RingDiff.SlotMove> ranges) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 + 4 * ranges.size() + 1);
    b.putInt(ranges.size());
    for (RingDiff.SlotMove m : ranges) {
      b.putShort((short) m.firstSlot()).putShort((short) m.lastSlot());
    }
    b.put((byte) COUNT_REPLY_VERSION);
    return b.array();
  }

  /**
   * Per range {@code {keys, bytes}} from either reply form; bytes are -1 in a version-1 reply.
   *
   * @throws IllegalArgumentException when the payload is neither form for {@code expected} ranges
   */
  static long[][] decodeCounts(byte[] payload, int expected) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    long[][] out = new long[expected][];
    if (payload.length == 8L * expected) {
      for (int i = 0; i < expected; i++) {
        out[i] = new long[] {b.getLong(), -1};
      }
      return out;
    }
    if (payload.length != 5 + 16L * expected) {
      throw new IllegalArgumentException(
          "count reply of " + payload.length + " bytes for " + expected + " ranges");
    }
    int version = b.get();
    int n = b.getInt();
    if (version != COUNT_REPLY_VERSION || n != expected) {
      throw new IllegalArgumentException(
          "count reply version " + version + " with " + n + " ranges, expected " + expected);
    }
    for (int i = 0; i < expected; i++) {
      long keys = b.getLong();
      long bytes = b.getLong();
      if (keys < 0 || bytes < 0) {
        throw new IllegalArgumentException("negative count " + keys + " keys " + bytes + " bytes");
      }
      out[i] = new long[] {keys, bytes};
    }
    return out;
  }

  /**
   * This node's answer to a {@link #TYPE_MOVE_COUNT} payload (node loop): per range the keys and
   * data bytes its slot counters hold over every keyspace, O(keyspaces in use x slots), no walk
   * over keys. Version 2 when the request asks for it, else version 1.
   */
  static byte[] countReply(MemoryState state, byte[] payload) {
    List<int[]> ranges = decodeRangeList(payload);
    java.nio.ByteBuffer rest =
        java.nio.ByteBuffer.wrap(
            payload, 4 + 4 * ranges.size(), payload.length - 4 - 4 * ranges.size());
    int version = rest.hasRemaining() ? Math.min(rest.get(), COUNT_REPLY_VERSION) : 1;
    long[][] counts = countKeysAndBytes(state, ranges);
    java.nio.ByteBuffer b;
    if (version >= 2) {
      b = java.nio.ByteBuffer.allocate(5 + 16 * counts.length);
      b.put((byte) COUNT_REPLY_VERSION).putInt(counts.length);
      for (long[] c : counts) {
        b.putLong(c[0]).putLong(c[1]);
      }
    } else {
      b = java.nio.ByteBuffer.allocate(8 * counts.length);
      for (long[] c : counts) {
        b.putLong(c[0]);
      }
    }
    return b.array();
  }

  /** Per range {@code {keys, bytes}} from the slot counters of every keyspace. */
  static long[][] countKeysAndBytes(MemoryState state, List<int[]> ranges) {
    long[][] counts = new long[ranges.size()][2];
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.isEmpty(ks)) {
        continue;
      }
      for (int i = 0; i < ranges.size(); i++) {
        int[] r = ranges.get(i);
        counts[i][0] += state.keysInSlots(ks, r[0], r[1]);
        counts[i][1] += state.bytesInSlots(ks, r[0], r[1]);
      }
    }
    return counts;
  }

  /** The ranges {@code {first, last}} of {@code [u32 n]([u16 first][u16 last])*}, validated. */
  static List<int[]> decodeRangeList(byte[] payload) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    if (payload.length < 4) {
      throw new IllegalArgumentException("range list of " + payload.length + " bytes");
    }
    int n = b.getInt();
    if (n < 0 || n > b.remaining() / 4) {
      throw new IllegalArgumentException("bad range count " + n);
    }
    List<int[]> ranges = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int first = Short.toUnsignedInt(b.getShort());
      int last = Short.toUnsignedInt(b.getShort());
      if (first > last || last >= Slots.SLOT_COUNT) {
        throw new IllegalArgumentException("bad range " + first + "-" + last);
      }
      ranges.add(new int[] {first, last});
    }
    return ranges;
  }

  /** Deletes, with logged deletes, every key this node holds in the ranges of a payload. */
  private long deleteKeysIn(byte[] payload) {
    int[] rangeBySlot = decodeRanges(payload);
    List<Map.Entry<Integer, byte[]>> doomed = new ArrayList<>();
    forEachKeyIn(rangeBySlot, (ks, key, range) -> doomed.add(Map.entry(ks, key.array())));
    for (Map.Entry<Integer, byte[]> e : doomed) {
      engine.apply(new Mutation.Delete(e.getKey(), e.getValue()));
    }
    engine.flush();
    return doomed.size();
  }

  private interface RangeKeyVisitor {
    void visit(int keyspace, Bytes key, int range);
  }

  /** Visits every key (all keyspaces) whose slot is in a range; does not mutate while visiting. */
  private void forEachKeyIn(int[] rangeBySlot, RangeKeyVisitor visitor) {
    MemoryState state = engine.state();
    for (int ks = 0; ks < state.keyspaceCount(); ks++) {
      if (state.size(ks) == 0) {
        continue;
      }
      int keyspace = ks;
      long cursor = 0;
      do {
        cursor =
            state.scan(
                ks,
                cursor,
                SCAN_KEYS_PER_STEP,
                (key, value) -> {
                  int r = rangeBySlot[Slots.slot(key.array())];
                  if (r >= 0) {
                    visitor.visit(keyspace, key, r);
                  }
                });
      } while (cursor != 0);
    }
  }

  /** Slot to range index (-1: in none) from {@code [u32 n]([u16 first][u16 last])*}. */
  private static int[] decodeRanges(byte[] payload) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    int n = b.getInt();
    if (n < 0 || n > b.remaining() / 4) {
      throw new IllegalArgumentException("bad range count " + n);
    }
    int[] rangeBySlot = new int[Slots.SLOT_COUNT];
    java.util.Arrays.fill(rangeBySlot, -1);
    for (int i = 0; i < n; i++) {
      int first = Short.toUnsignedInt(b.getShort());
      int last = Short.toUnsignedInt(b.getShort());
      if (first > last || last >= Slots.SLOT_COUNT) {
        throw new IllegalArgumentException("bad range " + first + "-" + last);
      }
      for (int s = first; s <= last; s++) {
        rangeBySlot[s] = i;
      }
    }
    return rangeBySlot;
  }

  /**
   * Version 1: {@code [u8 1][u32 count]([u32 length][mutation])*}, addressed to nobody (still
   * read). Version 2 ({@link #encodeBatch(String, List)}) inserts {@code [u16 n][target id, UTF-8]}
   * after the version byte.
   */
  static byte[] encodeBatch(List<Mutation> mutations) {
    return encodeBatch(null, mutations);
  }

  /** A batch addressed to {@code target} (version 2), or to nobody when null (version 1). */
  static byte[] encodeBatch(String target, List<Mutation> mutations) {
    byte[] id =
        target == null ? new byte[0] : target.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    Check.argument(id.length <= 0xFFFF, "target id of %s bytes", id.length);
    List<byte[]> encoded = new ArrayList<>(mutations.size());
    int size = 1 + (target == null ? 0 : 2 + id.length) + 4;
    for (Mutation m : mutations) {
      byte[] b = MutationCodec.encode(m);
      encoded.add(b);
      size += 4 + b.length;
    }
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(size);
    if (target == null) {
      buf.put(BATCH_FORMAT_VERSION);
    } else {
      buf.put(BATCH_ADDRESSED_FORMAT_VERSION).putShort((short) id.length).put(id);
    }
    buf.putInt(encoded.size());
    for (byte[] b : encoded) {
      buf.putInt(b.length).put(b);
    }
    return buf.array();
  }

  /** A decoded batch: the node it is addressed to (null: a version-1 batch) and its mutations. */
  record Batch(String target, List<Mutation> mutations) {}

  static List<Mutation> decodeBatch(byte[] payload) {
    return decodeAddressedBatch(payload).mutations();
  }

  static Batch decodeAddressedBatch(byte[] payload) {
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(payload);
    try {
      byte version = buf.get();
      String target = null;
      if (version == BATCH_ADDRESSED_FORMAT_VERSION) {
        target = readId(buf);
      } else if (version != BATCH_FORMAT_VERSION) {
        throw new IllegalArgumentException("unsupported move batch version " + version);
      }
      int count = buf.getInt();
      if (count < 0 || count > buf.remaining() / 4) {
        throw new IllegalArgumentException("bad mutation count " + count);
      }
      List<Mutation> out = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        int len = buf.getInt();
        if (len < 0 || len > buf.remaining()) {
          throw new IllegalArgumentException("bad mutation length " + len);
        }
        byte[] b = new byte[len];
        buf.get(b);
        out.add(MutationCodec.decode(b));
      }
      if (buf.hasRemaining()) {
        throw new IllegalArgumentException(buf.remaining() + " trailing bytes");
      }
      return new Batch(target, out);
    } catch (java.nio.BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated move batch", e);
    }
  }

  /** {@code [u16 n][n bytes of UTF-8]}. */
  private static String readId(java.nio.ByteBuffer buf) {
    int n = Short.toUnsignedInt(buf.getShort());
    if (n > buf.remaining()) {
      throw new IllegalArgumentException("bad target id length " + n);
    }
    byte[] id = new byte[n];
    buf.get(id);
    return new String(id, java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * The node a {@link #TYPE_MOVE_CLEAR} payload is addressed to: the {@code [u16 n][id]} after its
   * ranges, or null when the sender wrote none (an older node; receivers before the address ignore
   * the trailing bytes).
   */
  static String clearTarget(byte[] payload) {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(payload);
    int n = b.getInt();
    if (n < 0 || n > b.remaining() / 4) {
      throw new IllegalArgumentException("bad range count " + n);
    }
    b.position(4 + 4 * n);
    if (b.remaining() < 2) {
      return null;
    }
    try {
      return readId(b);
    } catch (java.nio.BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated clear target", e);
    }
  }

  /**
   * Null when a move frame addressed to {@code target} may be applied here, else the reason to
   * refuse it.
   */
  private String misaddressed(String target) {
    String self = selfAddress;
    if (target == null
        || target.equals(self)
        || (self == null && target.startsWith(selfId + "@"))) {
      return null;
    }
    return "move frame for "
        + target
        + " reached "
        + (self == null ? selfId : self)
        + " (a stale address); refused";
  }

  /**
   * The name a move frame gives its addressee: id, client port and peer port as the metadata
   * records them. The ports tell two processes with the same id apart (a restarted node, or a node
   * of another cluster with the same id on this host).
   */
  static String addressOf(Member m) {
    return m.id() + "@" + m.clientPort() + "/" + m.peerPort();
  }

  /**
   * This process's client and peer ports as it registers them: move frames naming other ports are
   * refused. Until set, a frame naming this node's id with any ports is accepted.
   */
  public void setSelfAddress(int clientPort, int peerPort) {
    selfAddress = selfId + "@" + clientPort + "/" + peerPort;
  }

  private volatile String selfAddress;
}
