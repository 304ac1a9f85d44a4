package io.replicakv.core.single;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.msg.SingleLeaderMessage.Append;
import io.replicakv.core.msg.SingleLeaderMessage.AppendAck;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One replica of a single-leader partition: leader, follower, or fenced (between epochs), as one
 * pure state machine the caller drives ({@link Replica}). The model is Kafka's replication with
 * leader epochs (KIP-101/KIP-279) and a controller-granted lease, with Raft's log-matching check on
 * every Append as a second line of defence; DDIA chapter 5 ("Leaders and Followers") and chapter 8
 * ("The leader and the lock", fencing tokens) give the vocabulary.
 *
 * <p><b>Log and epochs.</b> The leader of epoch {@code e} assigns consecutive offsets; an entry's
 * LSN is {@code (e, offset)}. A new leader first appends an epoch-start marker, and commits nothing
 * below an entry of its own epoch (the Raft rule that avoids the "figure 8" loss: an old-epoch
 * entry replicated widely can still be beaten in an election by a log with a newer epoch, unless an
 * entry of the newer leader's epoch is committed above it).
 *
 * <p><b>Replication.</b> The leader persists each write (synced before anything is sent), streams
 * Appends in log order to each follower with at most {@link #IN_FLIGHT_RECORDS_MAX} records and
 * {@link #IN_FLIGHT_BYTES_MAX} bytes unacknowledged, and rewinds to the follower's acknowledged
 * position when progress stalls for {@link #RETRANSMIT_TICKS}. A follower accepts an Append only
 * when its epoch is the newest it has promised and the entry before the batch matches its own (log
 * matching); a mismatch truncates the follower's unverified suffix. On a new epoch a follower first
 * asks the leader where its own last epoch ends in the leader's log (OffsetForLeaderEpoch) and cuts
 * everything after that. Truncated client writes are kept as divergent writes.
 *
 * <p><b>Payloads.</b> A write is either the simulator's register {@link Operation.Put}, whose value
 * this replica also keeps to answer reads, or the server's opaque {@link Operation.Write}, whose
 * bytes it persists, ships and hands back in {@link Ready#committed()} without reading them. For an
 * opaque key a read is answered with no value and the commit point: every entry up to it was handed
 * out in this or an earlier {@code Ready}, before the reply, so the caller reads its own applied
 * state (a read index served under the lease).
 *
 * <p><b>Commit and acks.</b> An entry is committed (never undone; applied; reported in {@link
 * Ready#committed()}) when the leader and {@link SingleLeaderConfig#commitFollowers()} followers
 * hold it and the leader has committed an entry of its epoch. A client write is answered OK when
 * {@code acks} followers hold it ({@code acks=none}: at once, after the leader's own sync), with
 * its LSN as session token. A write that does not get there within {@code writeTimeoutTicks}, or
 * whose leader steps down first, is answered {@link Reply.Uncertain}: it may still be committed by
 * a later leader. A write refused before it was appended is {@link Reply.Rejected}.
 *
 * <p><b>In-sync set.</b> A follower more than {@code maxLagRecords} behind the log end, or silent
 * for more than {@code maxLagTicks}, leaves the in-sync set; it rejoins once it holds everything
 * committed and answers again. With fewer in-sync followers than {@code acks}, writes are refused
 * up front (NOREPLICAS) instead of timing out.
 *
 * <p><b>Lease and clocks.</b> The leader serves writes and linearizable reads only while its lease
 * holds: the controller answers each heartbeat of the leader it recognises with a grant counted, on
 * the leader's own ticks, from the tick the heartbeat left. The controller starts an election only
 * after hearing nothing from the leader for {@code failoverTimeoutTicks} of its own ticks, counted
 * from when the last heartbeat arrived (so no earlier than it left). Assumption: every node's tick
 * rate is within {@code driftPpm} of real time, and {@link SingleLeaderConfig} refuses leases that
 * could outlive the failover timeout under that drift. A node whose ticks run slower than assumed
 * (a paused process that resumes and serves before ticking) can serve stale reads; that is the
 * limit of any lease (Jepsen's "process pauses"). Writes stay safe even then, because followers
 * that answered the controller's fence refuse the old epoch.
 *
 * <p><b>Session tokens.</b> Every OK reply carries an LSN. A read carrying a token is answered only
 * from state that includes the token's offset: a follower (with follower reads on) waits up to
 * {@code readWaitTicks} and then refuses with a pointer to the leader.
 *
 * <p><b>Retention and snapshots.</b> Every replica keeps its in-memory log bounded: it trims the
 * entries up to {@code retainedEntries} below its commit point, and a leader never trims past what
 * an in-sync follower holds ({@link PartitionLog#trimThrough}). A follower that needs entries the
 * leader no longer has (it was down, or out of sync, for longer than retention covers) gets {@link
 * SingleLeaderMessage.SnapshotNeeded} instead of Appends, resent every {@link
 * #SNAPSHOT_NEEDED_RESEND_TICKS}; the caller on the leader's side ships a copy of the state at the
 * leader's commit point ({@link #commitLsn}), and the caller on the follower's side reports it with
 * {@link #installSnapshot} once loaded: the follower's log then starts after the snapshot's LSN
 * (Raft's InstallSnapshot, with the data moved outside the state machine). A snapshot is installed
 * only by a follower that finished its epoch truncation in the same epoch, so its log is a prefix
 * of the leader's and nothing it drops is divergent, and only when it lies past the follower's
 * whole log, so applied state never goes back. A replica can also start from a snapshot LSN after a
 * restart (the constructor's {@code startAfter}), when its storage kept the state up to there and
 * only the log after it. Retention has a price (LESSONS 8): a follower down for longer than
 * retention covers pays a full snapshot.
 *
 * <p><b>Survives:</b> crashes with unsynced records lost (everything promised is synced first),
 * lost, duplicated and reordered messages, partitions, a restarted leader rejoining, a follower
 * that fell behind the leader's retention. <b>Does not:</b> lose data under {@code acks=none}
 * silently (it records it as divergent), but it does lose it. When a leader that itself started
 * from a snapshot cannot tell where a follower's older epoch ended, the follower keeps only its
 * committed prefix and records the rest as divergent, which may include writes the leader has.
 */
public final class PartitionReplica implements Replica {
  /** Records sent to one follower and not yet acknowledged, at most. */
  public static final int IN_FLIGHT_RECORDS_MAX = 256;

  /** Bytes sent to one follower and not yet acknowledged, at most (one entry always may go). */
  public static final long IN_FLIGHT_BYTES_MAX = 1 << 20;

  /** Ticks without progress from a follower before the leader resends from its acknowledged end. */
  public static final long RETRANSMIT_TICKS = 5;

  /** An idle leader sends an empty Append (commit point, liveness) this often, in ticks. */
  public static final long APPEND_HEARTBEAT_TICKS = 2;

  /** A follower resends an unanswered OffsetForLeaderEpoch query after this many ticks. */
  public static final long EPOCH_QUERY_RETRY_TICKS = 5;

  /** Client writes waiting for acks, at most; more are refused with BUSY. */
  public static final int PENDING_WRITES_MAX = 10_000;

  /** Reads waiting for a session token or a lease, at most; more are refused with BUSY. */
  public static final int WAITING_READS_MAX = 10_000;

  /** Entries kept below the commit point by default, for followers that fall a little behind. */
  public static final long RETAINED_ENTRIES_DEFAULT = 100_000;

  /** A leader repeats SnapshotNeeded to a follower that still needs one this often, in ticks. */
  public static final long SNAPSHOT_NEEDED_RESEND_TICKS = 5;

  /** Divergent writes kept for the admin listing; the counter keeps counting past this. */
  public static final int DIVERGENT_WRITES_KEPT_MAX = 100_000;

  /** The three roles; {@link #FENCED} is between epochs, serving nothing but follower reads. */
  public enum Role {
    FENCED,
    FOLLOWER,
    LEADER
  }

  private record PendingWrite(ClientRequest request, Lsn lsn, long deadlineTick) {}

  private record WaitingRead(ClientRequest request, boolean linearizable, long deadlineTick) {}

  private final int nodeId;
  private final SingleLeaderConfig config;
  private final boolean followerReads;
  private final ReadyBuffer out = new ReadyBuffer();
  private final PartitionLog log = new PartitionLog();
  private final Map<String, String> state = new TreeMap<>();
  private final List<Entry> divergentWrites = new ArrayList<>();
  private final List<WaitingRead> waitingReads = new ArrayList<>();
  private final long retainedEntries;
  private long divergentWritesTotal;
  private long snapshotsInstalled;
  private long commitOffset;
  private long promisedEpoch;
  private final long incarnation;
  private long nowTick;

  private Role role = Role.FENCED;
  private long epoch;
  private int leaderId = -1;

  // Follower state, reset by becomeFollower.
  private boolean truncationDone;
  private long verifiedEnd;
  private long lastEpochQueryTick;
  private long snapshotNeededFirstOffset;

  /**
   * Set when the committed state is found off the leader's history; see #committedStateDiverged.
   */
  private String stateDivergedFrom;

  // Leader state, reset by becomeLeader.
  private final Map<Integer, FollowerProgress> progress = new LinkedHashMap<>();
  private final TreeMap<Long, PendingWrite> pendingWrites = new TreeMap<>();
  private long epochStartOffset;
  private long leaderSinceTick;
  private long leaseExpiresTick;
  private int drainTarget = -1;

  /**
   * A replica of {@code config}'s partition on node {@code nodeId}, rebuilt from {@code recovered}
   * (the records its disk kept, in order). It starts fenced and learns its role from the
   * controller.
   *
   * @param followerReads whether a non-leader answers reads from its applied state
   */
  public PartitionReplica(
      int nodeId, SingleLeaderConfig config, boolean followerReads, List<PersistRecord> recovered) {
    this(nodeId, config, followerReads, Lsn.ZERO, RETAINED_ENTRIES_DEFAULT, recovered);
  }

  /**
   * A replica whose storage already holds the partition's committed state up to {@code startAfter}
   * (a node snapshot or an installed partition snapshot), so {@code recovered} needs only the log
   * after it; records of entries at or below it are skipped. {@link Lsn#ZERO} starts at offset 1.
   *
   * @param retainedEntries entries kept in memory below the commit point (retention)
   */
  public PartitionReplica(
      int nodeId,
      SingleLeaderConfig config,
      boolean followerReads,
      Lsn startAfter,
      long retainedEntries,
      List<PersistRecord> recovered) {
    Check.argument(config.replicas().contains(nodeId), "n%s not a replica of %s", nodeId, config);
    Check.argument(retainedEntries >= 0, "retainedEntries %s", retainedEntries);
    this.nodeId = nodeId;
    this.config = config;
    this.followerReads = followerReads;
    this.retainedEntries = retainedEntries;
    log.startAfter(startAfter);
    long lastIncarnation = 0;
    for (PersistRecord record : recovered) {
      switch (ReplicaRecords.decode(record)) {
        case ReplicaRecords.Append append -> {
          if (append.entry().offset() > log.base().offset()) {
            log.append(append.entry());
          }
        }
        case ReplicaRecords.Truncate truncate -> {
          if (truncate.offset() >= log.base().offset()) {
            keepDivergent(log.truncateAfter(truncate.offset()));
          }
        }
        case ReplicaRecords.Installed installed -> {
          log.startAfter(installed.lsn());
          state.clear();
          state.putAll(installed.registers());
          snapshotsInstalled++;
        }
        case ReplicaRecords.Promise promise ->
            promisedEpoch = Math.max(promisedEpoch, promise.epoch());
        case ReplicaRecords.Incarnation started ->
            lastIncarnation = Math.max(lastIncarnation, started.number());
        case ReplicaRecords.ControllerState controller ->
            throw new IllegalStateException("controller record on replica n" + nodeId);
      }
    }
    this.incarnation = lastIncarnation + 1;
    // Everything up to the base is committed: a snapshot is taken at a commit point.
    this.commitOffset = log.base().offset();
    out.persist(ReplicaRecords.incarnation(incarnation), true);
    this.epoch = promisedEpoch;
  }

  // ---------------------------------------------------------------- Replica

  @Override
  public void step(Message message) {
    switch (message) {
      case ClientRequest request -> onClientRequest(request);
      case SingleLeaderMessage peer -> onPeerMessage(peer);
      case PeerMessage other ->
          throw new IllegalArgumentException("n" + nodeId + " got another protocol's " + other);
    }
    trimLog();
    checkInvariants();
  }

  @Override
  public void tick() {
    nowTick++;
    if (nowTick % config.heartbeatIntervalTicks() == 0) {
      sendHeartbeat();
    }
    switch (role) {
      case LEADER -> leaderTick();
      case FOLLOWER -> followerTick();
      case FENCED -> {}
    }
    serveWaitingReads();
    trimLog();
    checkInvariants();
  }

  @Override
  public Ready ready() {
    return out.ready();
  }

  @Override
  public void advance(Ready done) {
    out.advance(done);
  }

  private void onPeerMessage(SingleLeaderMessage message) {
    Check.argument(message.to() == nodeId, "n%s got a message for n%s", nodeId, message.to());
    switch (message) {
      case Append append -> onAppend(append);
      case AppendAck ack -> onAppendAck(ack);
      case SingleLeaderMessage.EpochQuery query -> onEpochQuery(query);
      case SingleLeaderMessage.EpochAnswer answer -> onEpochAnswer(answer);
      case SingleLeaderMessage.Leadership leadership -> onLeadership(leadership);
      case SingleLeaderMessage.Fence fence -> onFence(fence);
      case SingleLeaderMessage.Drain drain -> onDrain(drain);
      case SingleLeaderMessage.SnapshotNeeded needed -> onSnapshotNeeded(needed);
      case SingleLeaderMessage.Heartbeat ignored -> misrouted(message);
      case SingleLeaderMessage.FenceAck ignored -> misrouted(message);
      case SingleLeaderMessage.Drained ignored -> misrouted(message);
    }
  }

  private void misrouted(SingleLeaderMessage message) {
    throw new IllegalArgumentException("replica n" + nodeId + " got controller input " + message);
  }

  // ---------------------------------------------------------------- transitions

  /** Stops serving any epoch below {@code newEpoch}; waits for the controller's announcement. */
  private void becomeFenced(long newEpoch) {
    resetRole();
    role = Role.FENCED;
    epoch = newEpoch;
    leaderId = -1;
  }

  /**
   * Follows {@code leader} in {@code newEpoch}: first finds where its log parts from the leader's.
   */
  private void becomeFollower(long newEpoch, int leader) {
    Check.argument(leader != nodeId, "n%s asked to follow itself", nodeId);
    resetRole();
    role = Role.FOLLOWER;
    epoch = newEpoch;
    leaderId = leader;
    truncationDone = false;
    verifiedEnd = 0;
    sendEpochQuery();
  }

  /** Leads {@code newEpoch}: writes the epoch-start marker and starts replicating. */
  private void becomeLeader(long newEpoch) {
    resetRole();
    role = Role.LEADER;
    epoch = newEpoch;
    leaderId = nodeId;
    if (log.lastEpoch() < newEpoch) {
      appendLocal(new Entry(newEpoch, log.endOffset() + 1, null));
    }
    epochStartOffset = log.epochStartOffsets().get(newEpoch);
    leaderSinceTick = nowTick;
    leaseExpiresTick = nowTick;
    for (int replica : config.replicas()) {
      if (replica != nodeId) {
        progress.put(replica, new FollowerProgress(replica, log.endOffset() + 1, nowTick));
      }
    }
    sendHeartbeat();
    replicateAll(true);
  }

  /** Clears every role's state; pending client operations learn what they can truthfully know. */
  private void resetRole() {
    for (PendingWrite pending : pendingWrites.values()) {
      reply(
          pending.request(),
          new Reply.Uncertain("leadership lost before acks; the write may or may not be applied"));
    }
    pendingWrites.clear();
    for (WaitingRead waiting : waitingReads) {
      reply(waiting.request(), new Reply.Rejected("TRYAGAIN role changed while the read waited"));
    }
    waitingReads.clear();
    progress.clear();
    drainTarget = -1;
    leaseExpiresTick = 0;
    epochStartOffset = 0;
    truncationDone = false;
    verifiedEnd = 0;
    snapshotNeededFirstOffset = 0;
  }

  /** Durably promises to honour no epoch below {@code newEpoch}; synced before any answer. */
  private void promise(long newEpoch) {
    Check.argument(newEpoch > promisedEpoch, "promise %s not above %s", newEpoch, promisedEpoch);
    promisedEpoch = newEpoch;
    out.persist(ReplicaRecords.promise(newEpoch), true);
  }

  // ---------------------------------------------------------------- controller input

  private void onLeadership(SingleLeaderMessage.Leadership message) {
    if (message.epoch() < promisedEpoch) {
      return;
    }
    if (message.epoch() > promisedEpoch) {
      promise(message.epoch());
    }
    if (message.leader() < 0) {
      // An election of this epoch is running; a late copy must not unseat its announced leader.
      if (epoch < message.epoch()) {
        becomeFenced(message.epoch());
      }
      return;
    }
    if (message.leader() == nodeId) {
      if (!(role == Role.LEADER && epoch == message.epoch())) {
        becomeLeader(message.epoch());
      }
      boolean grantIsOurs =
          message.leaseFromTick() >= leaderSinceTick
              && message.leaseFromTick() <= nowTick
              && message.leaseIncarnation() == incarnation;
      if (grantIsOurs) {
        leaseExpiresTick =
            Math.max(leaseExpiresTick, message.leaseFromTick() + config.leaseTicks());
        serveWaitingReads();
      }
    } else if (!(role == Role.FOLLOWER && epoch == message.epoch())) {
      becomeFollower(message.epoch(), message.leader());
    }
  }

  private void onFence(SingleLeaderMessage.Fence fence) {
    if (fence.epoch() < promisedEpoch) {
      return;
    }
    if (fence.epoch() > promisedEpoch) {
      promise(fence.epoch());
    }
    if (epoch < fence.epoch()) {
      becomeFenced(fence.epoch());
    }
    // Sent after the promise is synced (the same Ready), so the answer can be relied upon.
    out.send(new SingleLeaderMessage.FenceAck(nodeId, fence.from(), fence.epoch(), log.lastLsn()));
  }

  private void onDrain(SingleLeaderMessage.Drain drain) {
    if (role != Role.LEADER || drain.epoch() != epoch || !progress.containsKey(drain.target())) {
      return;
    }
    drainTarget = drain.target();
    reportDrainedIfDone();
  }

  private void sendHeartbeat() {
    out.send(
        new SingleLeaderMessage.Heartbeat(
            nodeId,
            config.controllerId(),
            epoch,
            log.lastLsn(),
            role == Role.LEADER,
            incarnation,
            nowTick));
  }

  // ---------------------------------------------------------------- follower side

  private void onAppend(Append append) {
    if (append.epoch() < promisedEpoch) {
      out.send(new AppendAck(nodeId, append.from(), promisedEpoch, 0, false));
      return;
    }
    if (append.epoch() > promisedEpoch) {
      promise(append.epoch());
    }
    Check.state(
        !(role == Role.LEADER && epoch == append.epoch()),
        "n%s leads epoch %s but n%s sent it an Append of that epoch",
        nodeId,
        epoch,
        append.from());
    Check.state(
        !(role == Role.FOLLOWER && epoch == append.epoch() && leaderId != append.from()),
        "two leaders of epoch %s: n%s and n%s",
        epoch,
        leaderId,
        append.from());
    if (!(role == Role.FOLLOWER && epoch == append.epoch())) {
      becomeFollower(append.epoch(), append.from());
    }
    if (truncationDone) {
      appendFromLeader(append);
    }
  }

  private void appendFromLeader(Append append) {
    if (stateDivergedFrom != null) {
      return; // waits to be started over by its caller
    }
    Lsn previous = append.previous();
    if (previous.offset() > log.endOffset() || previous.offset() < log.base().offset()) {
      // Past our end, or a resend from before our base (we installed a snapshot since): tell the
      // leader where our log ends so it continues from there.
      ackLeader(log.endOffset(), false);
      return;
    }
    if (!log.lsnAt(previous.offset()).equals(previous)) {
      if (previous.offset() - 1 < commitOffset) {
        committedStateDiverged(previous, String.valueOf(log.lsnAt(previous.offset())));
        return;
      }
      truncate(previous.offset() - 1);
      ackLeader(previous.offset() - 1, false);
      return;
    }
    long match = previous.offset();
    for (Entry entry : append.entries()) {
      if (entry.offset() <= log.endOffset()) {
        if (log.entry(entry.offset()).epoch() == entry.epoch()) {
          match = entry.offset();
          continue;
        }
        if (entry.offset() - 1 < commitOffset) {
          committedStateDiverged(
              new Lsn(entry.epoch(), entry.offset()), String.valueOf(log.lsnAt(entry.offset())));
          return;
        }
        truncate(entry.offset() - 1);
      }
      if (log.size() >= PartitionLog.ENTRIES_MAX) {
        break; // full until the commit point moves and retention trims; the leader resends
      }
      appendLocal(entry);
      match = entry.offset();
    }
    snapshotNeededFirstOffset = 0;
    verifiedEnd = Math.max(verifiedEnd, match);
    applyCommitted(Math.min(append.commitOffset(), verifiedEnd));
    ackLeader(match, true);
    serveWaitingReads();
  }

  private void onSnapshotNeeded(SingleLeaderMessage.SnapshotNeeded needed) {
    if (needed.epoch() < promisedEpoch) {
      out.send(new AppendAck(nodeId, needed.from(), promisedEpoch, 0, false));
      return;
    }
    if (needed.epoch() > promisedEpoch) {
      promise(needed.epoch());
    }
    if (!(role == Role.FOLLOWER && epoch == needed.epoch())) {
      becomeFollower(needed.epoch(), needed.from());
    }
    if (!truncationDone) {
      if (log.lastEpoch() >= needed.historyStartEpoch()) {
        return; // the leader can answer our epoch query; wait for that answer
      }
      // The leader cannot tell where our last epoch ended; only the committed prefix is certain.
      truncate(commitOffset);
      truncationDone = true;
    }
    snapshotNeededFirstOffset = needed.firstOffset();
  }

  /**
   * True when {@link #installSnapshot} would accept a snapshot at {@code lsn} from {@code leader}
   * of {@code epoch} now: this replica follows that leader in that epoch, has finished its epoch
   * truncation, and its whole log lies before {@code lsn}. A caller that loads snapshot data into
   * its own storage asks first, and keeps this replica's input back until it reports the install,
   * so the answer cannot change meanwhile.
   */
  public boolean acceptsSnapshot(long snapshotEpoch, int leader, Lsn lsn) {
    return role == Role.FOLLOWER
        && epoch == snapshotEpoch
        && leaderId == leader
        && truncationDone
        && lsn.epoch() <= snapshotEpoch
        && lsn.offset() > log.endOffset();
  }

  /**
   * Installs a partition snapshot taken by {@code leader} of {@code epoch} at its commit point
   * {@code lsn}: the state becomes {@code registers} (the simulator's register values; empty for
   * opaque writes, whose data the caller has loaded into its storage), the log restarts after
   * {@code lsn}, and the leader is told so. Durable before the acknowledgement leaves (synced
   * record). Returns false, changing nothing, when {@link #acceptsSnapshot} is false.
   */
  public boolean installSnapshot(
      long snapshotEpoch, int leader, Lsn lsn, Map<String, String> registers) {
    if (!acceptsSnapshot(snapshotEpoch, leader, lsn)) {
      return false;
    }
    // Everything in our log is a verified prefix of the leader's and lies below lsn, which the
    // leader had committed: dropping it loses nothing.
    out.persist(ReplicaRecords.installed(lsn, registers), true);
    log.startAfter(lsn);
    state.clear();
    state.putAll(registers);
    commitOffset = lsn.offset();
    verifiedEnd = lsn.offset();
    snapshotNeededFirstOffset = 0;
    snapshotsInstalled++;
    ackLeader(lsn.offset(), true);
    serveWaitingReads();
    checkInvariants();
    return true;
  }

  private void ackLeader(long matchOffset, boolean accepted) {
    out.send(new AppendAck(nodeId, leaderId, epoch, matchOffset, accepted));
  }

  private void sendEpochQuery() {
    lastEpochQueryTick = nowTick;
    out.send(new SingleLeaderMessage.EpochQuery(nodeId, leaderId, epoch, log.lastEpoch()));
  }

  private void onEpochAnswer(SingleLeaderMessage.EpochAnswer answer) {
    boolean current =
        role == Role.FOLLOWER
            && answer.epoch() == epoch
            && answer.from() == leaderId
            && !truncationDone
            && answer.queriedEpoch() == log.lastEpoch();
    if (!current) {
      return;
    }
    Lsn end = answer.end();
    long cut =
        end.epoch() == answer.queriedEpoch()
            ? Math.min(end.offset(), log.endOffset())
            : Math.min(end.offset(), log.endOfEpoch(end.epoch()).offset());
    if (cut < commitOffset) {
      // The leader's history of our last epoch ends below what we hold as committed: our state is
      // not a prefix of the group's (see committedStateDiverged); truncating cannot repair it.
      committedStateDiverged(answer.end(), "the end of its epoch " + answer.queriedEpoch());
      return;
    }
    truncate(cut);
    truncationDone = true;
    ackLeader(log.endOffset(), false);
  }

  private void followerTick() {
    if (stateDivergedFrom == null
        && !truncationDone
        && nowTick - lastEpochQueryTick >= EPOCH_QUERY_RETRY_TICKS) {
      sendEpochQuery();
    }
  }

  /**
   * The leader's log differs from this replica's at or below its commit point: the state this
   * replica's storage holds is not a prefix of the group's history. Within one group's life this
   * cannot happen (a committed entry is in every later leader's log); it happens when a group is
   * re-formed and members start from different formation points, and a member formed further on (it
   * held more of the previous group's writes) was not among those that elected the leader. The
   * replica stops following (no ack, so the leader keeps resending) and reports it: its caller must
   * drop the group's state and start the replica over, to be sent the leader's state again.
   */
  private void committedStateDiverged(Lsn leaders, String ours) {
    if (stateDivergedFrom == null) {
      stateDivergedFrom =
          "the leader n"
              + leaderId
              + " of epoch "
              + epoch
              + " has "
              + leaders
              + " for what this replica holds as committed: "
              + ours
              + " (commit point "
              + commitOffset
              + ")";
    }
  }

  /**
   * Why this replica's committed state is not a prefix of its leader's log (see {@link
   * #committedStateDiverged}), or null. Once set the replica follows no further; its caller starts
   * it over.
   */
  public String committedStateDivergence() {
    return stateDivergedFrom;
  }

  /** Cuts the log after {@code offset}; client writes cut off become divergent writes. */
  private void truncate(long offset) {
    if (offset >= log.endOffset()) {
      return;
    }
    Check.state(
        offset >= commitOffset,
        "n%s asked to truncate after %s below its commit point %s",
        nodeId,
        offset,
        commitOffset);
    out.persist(ReplicaRecords.truncate(offset), true);
    keepDivergent(log.truncateAfter(offset));
  }

  private void keepDivergent(List<Entry> cut) {
    for (Entry entry : cut) {
      if (entry.isMarker()) {
        continue;
      }
      divergentWritesTotal++;
      if (divergentWrites.size() < DIVERGENT_WRITES_KEPT_MAX) {
        divergentWrites.add(entry);
      }
    }
  }

  // ---------------------------------------------------------------- leader side

  private void onEpochQuery(SingleLeaderMessage.EpochQuery query) {
    if (role != Role.LEADER || query.epoch() != epoch) {
      return;
    }
    if (query.lastEpoch() < log.historyStartEpoch()) {
      // This log started from a snapshot after that epoch; where it ended is unknown here.
      FollowerProgress follower = progress.get(query.from());
      if (follower != null) {
        sendSnapshotNeeded(follower);
      }
      return;
    }
    out.send(
        new SingleLeaderMessage.EpochAnswer(
            nodeId, query.from(), epoch, query.lastEpoch(), log.endOfEpoch(query.lastEpoch())));
  }

  private void onAppendAck(AppendAck ack) {
    if (ack.epoch() > promisedEpoch) {
      promise(ack.epoch());
      becomeFenced(ack.epoch());
      return;
    }
    if (role != Role.LEADER || ack.epoch() != epoch) {
      return;
    }
    FollowerProgress follower = progress.get(ack.from());
    Check.argument(follower != null, "ack from n%s, not a follower", ack.from());
    Check.state(
        !ack.accepted() || ack.matchOffset() <= log.endOffset(),
        "n%s acknowledged %s past the leader's end %s",
        ack.from(),
        ack.matchOffset(),
        log.endOffset());
    follower.lastAckTick = nowTick;
    if (ack.accepted()) {
      follower.matchKnown = true;
    }
    if (ack.accepted() && ack.matchOffset() > follower.matchOffset) {
      follower.matchOffset = ack.matchOffset();
      follower.lastProgressTick = nowTick;
    }
    if (ack.accepted()) {
      follower.nextOffset = Math.max(follower.nextOffset, follower.matchOffset + 1);
    } else {
      long resendFrom = Math.max(ack.matchOffset(), follower.matchOffset) + 1;
      follower.nextOffset = Math.min(resendFrom, log.endOffset() + 1);
      follower.lastProgressTick = nowTick;
    }
    updateInSync(follower);
    advanceCommit();
    replicate(follower, false);
    reportDrainedIfDone();
  }

  private void onClientRequest(ClientRequest request) {
    switch (request.operation()) {
      case Operation.Put put -> onWrite(request, put);
      case Operation.Write write -> onWrite(request, write);
      case Operation.Get get -> onRead(request);
    }
  }

  private void onWrite(ClientRequest request, Operation.Mutation mutation) {
    String refusal = writeRefusal();
    if (refusal != null) {
      reply(request, new Reply.Rejected(refusal));
      return;
    }
    Entry entry = new Entry(epoch, log.endOffset() + 1, mutation);
    appendLocal(entry);
    if (config.acksFollowers() == 0) {
      // Answered in the Ready that syncs the entry, after the sync.
      reply(request, new Reply.Written(entry.lsn()));
    } else {
      pendingWrites.put(
          entry.offset(),
          new PendingWrite(request, entry.lsn(), nowTick + config.writeTimeoutTicks()));
    }
    replicateAll(false);
    advanceCommit();
  }

  /** Why a write cannot be accepted now (it is certainly not applied), or null. */
  private String writeRefusal() {
    if (role != Role.LEADER) {
      return notLeader();
    }
    if (drainTarget >= 0) {
      return "TRYAGAIN leadership is moving to n" + drainTarget;
    }
    if (!leaseValid()) {
      return "TRYAGAIN leader n" + nodeId + " has no valid lease";
    }
    int inSync = inSyncFollowers();
    if (inSync < config.acksFollowers()) {
      return "NOREPLICAS " + inSync + " in-sync followers, acks needs " + config.acksFollowers();
    }
    if (pendingWrites.size() >= PENDING_WRITES_MAX) {
      return "BUSY " + PENDING_WRITES_MAX + " writes waiting for acks";
    }
    if (log.size() >= PartitionLog.ENTRIES_MAX) {
      return "BUSY partition log holds " + PartitionLog.ENTRIES_MAX + " entries";
    }
    return null;
  }

  private String notLeader() {
    return leaderId >= 0 && leaderId != nodeId
        ? "MOVED n" + leaderId + " leads epoch " + epoch
        : "CLUSTERDOWN no leader for epoch " + epoch;
  }

  private void leaderTick() {
    expirePendingWrites();
    for (FollowerProgress follower : progress.values()) {
      updateInSync(follower);
      if (follower.inFlightRecords() > 0
          && nowTick - follower.lastProgressTick >= RETRANSMIT_TICKS) {
        follower.nextOffset = follower.matchOffset + 1;
        follower.lastProgressTick = nowTick;
      }
      replicate(follower, nowTick - follower.lastSendTick >= APPEND_HEARTBEAT_TICKS);
    }
    advanceCommit();
    reportDrainedIfDone();
  }

  private void expirePendingWrites() {
    Iterator<PendingWrite> pending = pendingWrites.values().iterator();
    while (pending.hasNext()) {
      PendingWrite write = pending.next();
      if (write.deadlineTick() <= nowTick) {
        pending.remove();
        reply(
            write.request(),
            new Reply.Uncertain(
                "TIMEOUT acks not met in time; write " + write.lsn() + " may or may not apply"));
      }
    }
  }

  private void updateInSync(FollowerProgress follower) {
    long silentTicks = nowTick - follower.lastAckTick;
    if (!follower.matchKnown) {
      // A new leader does not know where its followers' logs end until they first answer (their
      // match reads 0, which a long log would count as far behind): it keeps them in sync, as
      // they were under the previous leader, while they answer within the lag bound. Only the
      // up-front refusal depends on it; a commit still needs their acknowledged match.
      follower.inSync = silentTicks <= config.maxLagTicks();
      return;
    }
    long lagRecords = log.endOffset() - follower.matchOffset;
    if (follower.inSync) {
      follower.inSync = lagRecords <= config.maxLagRecords() && silentTicks <= config.maxLagTicks();
    } else {
      follower.inSync = follower.matchOffset >= commitOffset && silentTicks <= config.maxLagTicks();
    }
  }

  private int inSyncFollowers() {
    int count = 0;
    for (FollowerProgress follower : progress.values()) {
      count += follower.inSync ? 1 : 0;
    }
    return count;
  }

  private void replicateAll(boolean force) {
    for (FollowerProgress follower : progress.values()) {
      replicate(follower, force);
    }
  }

  /** Sends what flow control allows; an empty Append if nothing and {@code force}. */
  private void replicate(FollowerProgress follower, boolean force) {
    if (follower.nextOffset < log.firstOffset()) {
      if (nowTick - follower.lastSnapshotNeededTick >= SNAPSHOT_NEEDED_RESEND_TICKS) {
        sendSnapshotNeeded(follower);
      }
      return;
    }
    boolean sent = false;
    while (follower.nextOffset <= log.endOffset()
        && follower.inFlightRecords() < IN_FLIGHT_RECORDS_MAX) {
      long bytesInFlight = inFlightBytes(follower);
      if (bytesInFlight >= IN_FLIGHT_BYTES_MAX) {
        break;
      }
      int records =
          (int)
              Math.min(
                  SingleLeaderMessage.ENTRIES_PER_APPEND_MAX,
                  IN_FLIGHT_RECORDS_MAX - follower.inFlightRecords());
      List<Entry> batch =
          log.read(follower.nextOffset, records, IN_FLIGHT_BYTES_MAX - bytesInFlight);
      sendAppend(follower, batch);
      follower.nextOffset += batch.size();
      sent = true;
    }
    if (!sent && force) {
      sendAppend(follower, List.of());
    }
  }

  private void sendAppend(FollowerProgress follower, List<Entry> batch) {
    follower.lastSendTick = nowTick;
    out.send(
        new Append(
            nodeId,
            follower.nodeId,
            epoch,
            log.lsnAt(follower.nextOffset - 1),
            batch,
            commitOffset));
  }

  private void sendSnapshotNeeded(FollowerProgress follower) {
    follower.lastSnapshotNeededTick = nowTick;
    follower.lastSendTick = nowTick;
    follower.snapshotsNeeded++;
    out.send(
        new SingleLeaderMessage.SnapshotNeeded(
            nodeId, follower.nodeId, epoch, log.firstOffset(), log.historyStartEpoch()));
  }

  private long inFlightBytes(FollowerProgress follower) {
    long bytes = 0;
    long from = Math.max(follower.matchOffset + 1, log.firstOffset());
    for (long offset = from; offset < follower.nextOffset; offset++) {
      bytes += log.entry(offset).sizeBytes();
    }
    return bytes;
  }

  /** Commits what enough followers hold (never below the epoch start) and answers its writers. */
  private void advanceCommit() {
    if (role != Role.LEADER) {
      return;
    }
    List<Long> matches = new ArrayList<>();
    for (FollowerProgress follower : progress.values()) {
      matches.add(follower.matchOffset);
    }
    matches.sort(Collections.reverseOrder());
    int needed = config.commitFollowers();
    long candidate = needed == 0 ? log.endOffset() : matches.get(needed - 1);
    candidate = Math.min(candidate, log.endOffset());
    if (candidate > commitOffset && candidate >= epochStartOffset) {
      applyCommitted(candidate);
    }
    while (!pendingWrites.isEmpty() && pendingWrites.firstKey() <= commitOffset) {
      PendingWrite write = pendingWrites.pollFirstEntry().getValue();
      reply(write.request(), new Reply.Written(write.lsn()));
    }
    serveWaitingReads();
  }

  private void reportDrainedIfDone() {
    if (role != Role.LEADER || drainTarget < 0 || !pendingWrites.isEmpty()) {
      return;
    }
    FollowerProgress target = progress.get(drainTarget);
    if (target.matchOffset == log.endOffset()) {
      out.send(
          new SingleLeaderMessage.Drained(
              nodeId, config.controllerId(), epoch, drainTarget, log.lastLsn()));
    }
  }

  private boolean leaseValid() {
    return role == Role.LEADER && nowTick < leaseExpiresTick;
  }

  // ---------------------------------------------------------------- reads

  private void onRead(ClientRequest request) {
    boolean linearizable = role == Role.LEADER;
    if (!linearizable && !followerReads) {
      reply(request, new Reply.Rejected(notLeader()));
      return;
    }
    if (!tryServe(request, linearizable)) {
      if (waitingReads.size() >= WAITING_READS_MAX) {
        reply(request, new Reply.Rejected("BUSY " + WAITING_READS_MAX + " reads waiting"));
      } else {
        waitingReads.add(new WaitingRead(request, linearizable, nowTick + config.readWaitTicks()));
      }
    }
  }

  /** Answers {@code request} if this replica may, now; false when it must wait. */
  private boolean tryServe(ClientRequest request, boolean linearizable) {
    if (linearizable) {
      boolean serving =
          role == Role.LEADER
              && leaseValid()
              && drainTarget < 0
              && commitOffset >= epochStartOffset;
      if (!serving) {
        return false;
      }
    }
    if (request.sessionToken().offset() > commitOffset) {
      return false;
    }
    String value = state.get(request.operation().key());
    reply(
        request,
        new Reply.Values(value == null ? List.of() : List.of(value), log.lsnAt(commitOffset)));
    return true;
  }

  private void serveWaitingReads() {
    Iterator<WaitingRead> waiting = waitingReads.iterator();
    while (waiting.hasNext()) {
      WaitingRead read = waiting.next();
      if (tryServe(read.request(), read.linearizable())) {
        waiting.remove();
      } else if (read.deadlineTick() <= nowTick) {
        waiting.remove();
        reply(
            read.request(),
            new Reply.Rejected(
                role == Role.LEADER ? "TRYAGAIN leader cannot serve yet" : notLeader()));
      }
    }
  }

  // ---------------------------------------------------------------- log and state

  private void appendLocal(Entry entry) {
    log.append(entry);
    out.persist(ReplicaRecords.append(entry), true);
  }

  private void applyCommitted(long upTo) {
    Check.state(upTo <= log.endOffset(), "commit %s past log end %s", upTo, log.endOffset());
    for (long offset = commitOffset + 1; offset <= upTo; offset++) {
      Entry entry = log.entry(offset);
      if (!entry.isMarker()) {
        // A Write's bytes are the caller's to apply; only the register Put has state here.
        if (entry.operation() instanceof Operation.Put put) {
          state.put(put.key(), put.value());
        }
        out.commit(new CommittedEntry(entry.epoch(), offset, entry.operation()));
      }
    }
    commitOffset = Math.max(commitOffset, upTo);
  }

  /**
   * Retention: drops from memory the entries {@code retainedEntries} below the commit point, and on
   * a leader never past what an in-sync follower holds (so a follower in sync never needs a
   * snapshot; one that left the set may).
   */
  private void trimLog() {
    long through = commitOffset - retainedEntries;
    if (role == Role.LEADER) {
      for (FollowerProgress follower : progress.values()) {
        if (follower.inSync) {
          through = Math.min(through, follower.matchOffset);
        }
      }
    }
    if (through > log.base().offset()) {
      log.trimThrough(through);
    }
  }

  private void reply(ClientRequest request, Reply reply) {
    out.reply(ClientReply.to(request, reply));
  }

  private void checkInvariants() {
    Check.state(
        commitOffset <= log.endOffset(), "commit %s past last %s", commitOffset, log.endOffset());
    Check.state(epoch <= promisedEpoch, "epoch %s above promise %s", epoch, promisedEpoch);
    Check.state(
        commitOffset >= log.base().offset(),
        "commit %s below the log base %s",
        commitOffset,
        log.base());
    Check.state(
        (role == Role.LEADER) == (leaderId == nodeId && role != Role.FENCED),
        "n%s role %s with leader %s",
        nodeId,
        role,
        leaderId);
  }

  // ---------------------------------------------------------------- inspection

  /**
   * The entry at {@code offset} of this replica's log, which must be in {@code [1, lastLsn
   * offset]}; for inspection and tests (the server reads catch-up entries from its own storage).
   */
  public Entry entryAt(long offset) {
    return log.entry(offset);
  }

  /** This node's id. */
  public int nodeId() {
    return nodeId;
  }

  /** Current role. */
  public Role role() {
    return role;
  }

  /** Epoch of the current role. */
  public long epoch() {
    return epoch;
  }

  /** The newest epoch this replica durably honours. */
  public long promisedEpoch() {
    return promisedEpoch;
  }

  /** Known leader of the current epoch, -1 if none. */
  public int leaderId() {
    return leaderId;
  }

  /** Offset up to which the log is committed and applied here. */
  public long commitOffset() {
    return commitOffset;
  }

  /** Position of the commit point: what a partition snapshot taken now must be tagged with. */
  public Lsn commitLsn() {
    return log.lsnAt(commitOffset);
  }

  /** First offset the in-memory log still holds; a follower needing less gets a snapshot. */
  public long logFirstOffset() {
    return log.firstOffset();
  }

  /** Entries held in memory now (bounded by retention and {@link PartitionLog#ENTRIES_MAX}). */
  public int logSize() {
    return log.size();
  }

  /**
   * As a follower: the leader's first offset from its last {@link
   * SingleLeaderMessage.SnapshotNeeded}, 0 when no snapshot is awaited. The "why" for logs.
   */
  public long snapshotNeededFirstOffset() {
    return snapshotNeededFirstOffset;
  }

  /**
   * Records that rebuild this replica as it stands, for a caller that rewrites its record file to
   * keep it bounded (compaction): the incarnation, the promised epoch, the log's base as an
   * installed-snapshot record (when the log no longer starts at offset 1), and every retained
   * entry. Replaying them gives the same promise, log base, retained entries and epoch history from
   * the base's epoch on. What it drops: the truncation records (so divergent writes from before the
   * compaction are no longer listed after a restart) and the epoch starts below the base, which
   * {@link PartitionLog#startAfter} forgets anyway. The caller may use these records only when its
   * storage holds the state up to the base: the base is at or below the commit point, and the
   * caller applied every committed entry it was handed.
   */
  public List<PersistRecord> compactedRecords() {
    List<PersistRecord> records = new ArrayList<>(log.size() + 3);
    records.add(ReplicaRecords.incarnation(incarnation));
    if (promisedEpoch > 0) {
      records.add(ReplicaRecords.promise(promisedEpoch));
    }
    if (!log.base().equals(Lsn.ZERO)) {
      records.add(ReplicaRecords.installed(log.base(), state));
    }
    for (long offset = log.firstOffset(); offset <= log.endOffset(); offset++) {
      records.add(ReplicaRecords.append(log.entry(offset)));
    }
    return records;
  }

  /**
   * Records that rebuild this replica with an empty log and its promise kept: the incarnation and
   * the promised epoch. For a caller that found its storage holding state the log does not (writes
   * it applied ahead of a commit that never came) and starts the replica over, so that its leader
   * sends it the state again (the whole log, or a snapshot when its log no longer starts at offset
   * 1), without forgetting the epoch it promised not to go below.
   */
  public List<PersistRecord> promiseRecords() {
    List<PersistRecord> records = new ArrayList<>(2);
    records.add(ReplicaRecords.incarnation(incarnation));
    if (promisedEpoch > 0) {
      records.add(ReplicaRecords.promise(promisedEpoch));
    }
    return records;
  }

  /** Followers that must hold an entry before the leader commits it. */
  public int commitFollowersNeeded() {
    return config.commitFollowers();
  }

  /** The LSN just before the first entry held: {@link Lsn#ZERO}, a snapshot's, or trimmed. */
  public Lsn logBase() {
    return log.base();
  }

  /** Partition snapshots installed by this replica (including before a restart). */
  public long snapshotsInstalled() {
    return snapshotsInstalled;
  }

  /** As a leader: SnapshotNeeded messages sent per follower this epoch; empty otherwise. */
  public Map<Integer, Long> snapshotsNeededSent() {
    Map<Integer, Long> sent = new TreeMap<>();
    progress.values().forEach(follower -> sent.put(follower.nodeId, follower.snapshotsNeeded));
    return sent;
  }

  /** Position of the last entry of the log. */
  public Lsn lastLsn() {
    return log.lastLsn();
  }

  /** Position of the entry at {@code offset} in this replica's log, which must hold it. */
  public Lsn lsnAt(long offset) {
    return log.lsnAt(offset);
  }

  /** Read-only epoch-start table of the log. */
  public Map<Long, Long> epochStartOffsets() {
    return log.epochStartOffsets();
  }

  /**
   * Why a write arriving now would be refused (and so certainly not applied), or null when it would
   * be accepted: not the leader, draining, no valid lease, too few in-sync followers, too many
   * pending.
   */
  public String writeRefusalReason() {
    return writeRefusal();
  }

  /**
   * True when this replica leads, holds a valid lease, is not draining and has committed its own
   * epoch's start, so every entry of earlier epochs has been handed out as committed: its applied
   * state is then the newest committed state (a read index without a round trip).
   */
  public boolean servesLinearizableReads() {
    return role == Role.LEADER
        && leaseValid()
        && drainTarget < 0
        && commitOffset >= epochStartOffset;
  }

  /** True when a write arriving now would be accepted (leader, lease valid, enough in sync). */
  public boolean acceptsWrites() {
    return writeRefusal() == null;
  }

  /** Applied state: key to value. */
  public Map<String, String> appliedState() {
    return Collections.unmodifiableMap(state);
  }

  /** Client writes truncated from this replica's log, oldest first (at most the kept maximum). */
  public List<Entry> divergentWrites() {
    return Collections.unmodifiableList(divergentWrites);
  }

  /** Bytes of the log entries this replica holds after {@code offset} (lag in bytes). */
  public long logBytesAfter(long offset) {
    return log.bytesAfter(offset);
  }

  /** Client writes ever truncated from this replica's log, including those not kept. */
  public long divergentWritesTotal() {
    return divergentWritesTotal;
  }

  /**
   * When leading, each follower's acknowledged (durable) offset, from which lag in records is
   * {@code lastLsn().offset() - match}; empty otherwise.
   */
  public Map<Integer, Long> followerMatchOffsets() {
    Map<Integer, Long> matches = new TreeMap<>();
    progress.values().forEach(follower -> matches.put(follower.nodeId, follower.matchOffset));
    return matches;
  }

  /** Follower ids in the in-sync set, when leading; empty otherwise. */
  public List<Integer> inSyncFollowerIds() {
    List<Integer> ids = new ArrayList<>();
    progress
        .values()
        .forEach(
            follower -> {
              if (follower.inSync) {
                ids.add(follower.nodeId);
              }
            });
    return ids;
  }

  @Override
  public String toString() {
    return "PartitionReplica[n"
        + nodeId
        + " "
        + role
        + " epoch="
        + epoch
        + " leader="
        + leaderId
        + " last="
        + log.lastLsn()
        + " commit="
        + commitOffset
        + " "
        + progress.values()
        + "]";
  }
}
