package io.replicakv.server.replication.snapshot;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.single.PartitionReplica;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.storage.StorageEngine;
import io.replicakv.storage.partition.PartitionSnapshot;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Partition snapshots for the replica groups of single-leader replication: the leader node's side
 * ({@link SnapshotSenders}) and the follower node's side ({@link SnapshotReceiver}) joined to the
 * replication loop's replicas. Here a snapshot's "partition" is a replica group (its id and its
 * slots in one keyspace), the unit with one log.
 *
 * <p><b>When.</b> A group's leader replica puts {@code SnapshotNeeded} for a follower in its Ready
 * when the follower needs entries its log no longer holds: the follower was away longer than
 * retention covers, it is a new member of a re-formed group (whose log starts after the group's
 * formation point, see {@code ReplicationLoop}), or its last epoch is older than the leader's
 * history (where it diverged is unknown). The loop hands each such message to {@link
 * #onSnapshotNeeded}, which starts one transfer per (group, follower) and logs why.
 *
 * <p><b>The LSN a snapshot stands for.</b> A leader applies its own writes to storage when it runs
 * them, before they commit, and applies the entries of earlier epochs when they commit. So between
 * two loop turns (the only moments this code runs), and once nothing but its own epoch's entries
 * and epoch-start markers lies above its commit point, the leader's storage holds exactly the
 * effects of every entry of its log up to its last LSN {@code L}: everything up to the commit point
 * was applied when it committed, every write of its own epoch was applied when the command ran, in
 * log order, on the same thread, and a marker changes nothing. The storage snapshot starts right
 * then (copy-before-write keeps its view at that instant while writes go on), so its data is "the
 * group's state after {@code L}" and it is tagged {@code L}. The follower installs it at {@code L}:
 * its log continues with {@code L + 1}, which is the first entry the snapshot lacks, so "snapshot +
 * the log after it" equals the leader's state, exactly, with no entry applied twice and none
 * missing. The commit point {@code C <= L} would be the wrong tag: the data already holds {@code
 * C+1..L}, and the follower would apply them a second time (harmless for absolute values, wrong for
 * a {@code RENAME} replayed over a later write of its source).
 *
 * <p>A follower that installs at {@code L} counts {@code L} as committed, and the core allows an
 * install only at a committed point. So the End frame (which triggers the install) waits until the
 * leader's commit point has reached {@code L} (its other followers acknowledged it), checked on
 * every timer turn. Exception: when the leader cannot commit {@code L} without this very follower
 * (fewer other in-sync followers than the commit needs, e.g. two replicas, or {@code acks=all}),
 * the End goes at once, because waiting would wedge the group; the follower's acknowledgement of
 * {@code L} then commits it like any follower's acknowledgement of entries it holds durably. The
 * window of that exception: if the leader loses its epoch before it learns of the acknowledgement
 * and a replica with a shorter log is elected, this follower holds state past the new leader's log
 * that it cannot truncate (it is below its log base); its replica stops on the broken invariant and
 * waits for another snapshot that it cannot accept. That case is not handled.
 *
 * <p>Not snapshotted: a leader with entries of an older epoch above its commit point (its storage
 * lacks them until they commit), and a leader that earlier truncated writes it had applied ahead
 * (its storage holds values its log does not; the loop logs that case), although the second is only
 * detected and logged, not refused, because the loop cannot tell when it ends.
 *
 * <p>Node loop only; the frame exchange is request (leader to follower, type {@value
 * SnapshotFrameCodec#FRAME_TYPE}) and reply (the follower's {@link SnapshotFrame.Ack}).
 */
public final class GroupSnapshots implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GroupSnapshots.class);

  /** What the replication loop gives this class. */
  public interface Host {
    /** This node's replica of the group, or null when it hosts none. */
    PartitionReplica replica(int keyspace, int group);

    /** The group's slots in the current view, or null when the group is gone. */
    BitSet slots(int keyspace, int group);

    /** Member id of a replica id, for logs. */
    String memberOf(int replicaId);

    /**
     * Sends one encoded snapshot frame to {@code replicaId}; {@code onReply} gets the payload of
     * its answer, {@code onFailure} the reason the exchange failed. Both run on the node loop.
     */
    void send(
        int replicaId,
        byte[] frame,
        java.util.function.Consumer<byte[]> onReply,
        java.util.function.Consumer<String> onFailure);

    /** The replica of the group changed outside a step (an install): pump its Ready. */
    void changed(int keyspace, int group);

    /** Why this follower needs a snapshot beyond the log positions, or null (a re-formed group). */
    String formationReason(int keyspace, int group, int follower);
  }

  private final StorageEngine engine;
  private final Host host;
  private final LongSupplier clockMillis;
  private final int selfReplicaId;
  private final long windowBytes;
  private final long retainedRecords;
  private final SnapshotSenders senders;
  private final SnapshotReceiver receiver;
  private final Map<SnapshotSenders.Target, SnapshotSender> started = new LinkedHashMap<>();
  private final Map<SnapshotSenders.Target, Long> retryAtMillis = new LinkedHashMap<>();
  private final Map<SnapshotSenders.Target, Long> retryBackoffMillis = new LinkedHashMap<>();
  private long installsRefused;
  private long notStartedLeaderNotReady;

  /**
   * @param firstTransferId the first transfer id (different per process start)
   * @param windowBytes unacknowledged snapshot bytes per follower, at most
   * @param retainedRecords the retention setting, for the "why" in logs
   */
  public GroupSnapshots(
      StorageEngine engine,
      Host host,
      LongSupplier clockMillis,
      int selfReplicaId,
      long firstTransferId,
      long windowBytes,
      long retainedRecords) {
    this.engine = Check.notNull(engine, "engine");
    this.host = Check.notNull(host, "host");
    this.clockMillis = Check.notNull(clockMillis, "clockMillis");
    this.selfReplicaId = selfReplicaId;
    this.windowBytes = windowBytes;
    this.retainedRecords = retainedRecords;
    this.senders = new SnapshotSenders(firstTransferId);
    this.receiver = new SnapshotReceiver(engine, new Acceptor());
  }

  // ---------------------------------------------------------------- leader side

  /**
   * The leader replica of {@code group} asked for a snapshot for {@code needed.to()}: starts a
   * transfer unless one runs, or the leader's storage is not yet at a point a snapshot may be cut
   * (the core repeats the request, so a refusal here only delays).
   */
  public void onSnapshotNeeded(int keyspace, int group, SingleLeaderMessage.SnapshotNeeded needed) {
    SnapshotSenders.Target target = new SnapshotSenders.Target(keyspace, group, needed.to());
    if (senders.running(target) != null) {
      return;
    }
    Long retryAt = retryAtMillis.get(target);
    if (retryAt != null && clockMillis.getAsLong() < retryAt) {
      return; // the last attempt failed; the core asks again
    }
    PartitionReplica replica = host.replica(keyspace, group);
    BitSet slots = host.slots(keyspace, group);
    if (replica == null
        || slots == null
        || replica.role() != PartitionReplica.Role.LEADER
        || replica.epoch() != needed.epoch()) {
      return;
    }
    Long match = replica.followerMatchOffsets().get(needed.to());
    if (match != null && match >= replica.logFirstOffset() - 1) {
      return; // it acknowledged a position this log continues from: Appends will do
    }
    if (!appliedThroughLast(replica)) {
      notStartedLeaderNotReady++;
      return; // storage may still lack entries of earlier epochs that are not committed yet
    }
    Lsn lsn = replica.lastLsn();
    long now = clockMillis.getAsLong();
    int follower = needed.to();
    String reason = reason(keyspace, group, replica, needed);
    boolean begun =
        senders.onSnapshotNeeded(
            target,
            transferId -> {
              PartitionSnapshot snapshot = engine.startPartitionSnapshot(keyspace, slots, lsn);
              SnapshotSender sender =
                  new SnapshotSender(
                      snapshot,
                      group,
                      transferId,
                      needed.epoch(),
                      selfReplicaId,
                      frame -> send(target, frame),
                      windowBytes,
                      now);
              sender.holdEnd(() -> mayEnd(target, lsn, needed.epoch()));
              return sender;
            },
            now);
    if (begun) {
      started.put(target, senders.running(target));
      log.info(
          "group {}/{}: snapshot for {} at {} ({} slots, at most {} keys): {}",
          keyspace,
          group,
          host.memberOf(follower),
          lsn,
          slots.cardinality(),
          senders.running(target) == null
              ? 0
              : senders.running(target).progress().keysTotalAtMost(),
          reason);
    }
  }

  /**
   * True when this leader's storage holds the effect of every entry of its log: past the commit
   * point there are only its own epoch's writes (applied when they ran) and epoch-start markers (no
   * effect). An entry of an older epoch above the commit point is applied only when it commits, so
   * until then no snapshot is cut. Requiring the own epoch start to be committed instead would
   * wedge a group whose followers all need a snapshot: the marker commits only once one of them
   * acknowledges it.
   */
  private static boolean appliedThroughLast(PartitionReplica replica) {
    long last = replica.lastLsn().offset();
    for (long offset = Math.max(replica.commitOffset(), replica.logBase().offset()) + 1;
        offset <= last;
        offset++) {
      SingleLeaderMessage.Entry entry = replica.entryAt(offset);
      if (entry.epoch() != replica.epoch() && !entry.isMarker()) {
        return false;
      }
    }
    return true;
  }

  private String reason(
      int keyspace,
      int group,
      PartitionReplica replica,
      SingleLeaderMessage.SnapshotNeeded needed) {
    String formation = host.formationReason(keyspace, group, needed.to());
    if (formation != null) {
      return formation;
    }
    Long match = replica.followerMatchOffsets().get(needed.to());
    Lsn base = replica.logBase();
    if (match != null && match >= base.offset() && match > 0) {
      // It holds entries this log still has: only its epoch history can be the problem.
      return "divergent state: its last epoch is older than this leader's history, which starts"
          + " at epoch "
          + needed.historyStartEpoch()
          + " (log base "
          + base
          + "), so where its log parted from the leader's is unknown";
    }
    if (base.epoch() == 0 && base.offset() >= 1 && (match == null || match < base.offset())) {
      return "it holds less of this group's data than this leader, whose log starts at the"
          + " group's formation point "
          + base
          + " (it joined the re-formed group without the data, held fewer of the previous"
          + " group's writes, or lost its files)";
    }
    return "behind retention: this log keeps entries from offset "
        + needed.firstOffset()
        + " ("
        + retainedRecords
        + " records below the commit point "
        + replica.commitOffset()
        + "), and the follower's log ends before that"
        + (match == null || match == 0 ? "" : " (at " + match + ")");
  }

  /** Whether the End may go: see the class comment. Fails the transfer if leadership is gone. */
  private boolean mayEnd(SnapshotSenders.Target target, Lsn lsn, long epoch) {
    PartitionReplica replica = host.replica(target.keyspace(), target.partition());
    if (replica == null
        || replica.role() != PartitionReplica.Role.LEADER
        || replica.epoch() != epoch) {
      SnapshotSender sender = senders.running(target);
      if (sender != null) {
        sender.fail("this node no longer leads epoch " + epoch);
      }
      return false;
    }
    if (replica.commitOffset() >= lsn.offset()) {
      return true;
    }
    int othersInSync = 0;
    for (int id : replica.inSyncFollowerIds()) {
      othersInSync += id == target.follower() ? 0 : 1;
    }
    return othersInSync < replica.commitFollowersNeeded();
  }

  private void send(SnapshotSenders.Target target, byte[] frame) {
    host.send(
        target.follower(),
        frame,
        reply -> onReply(target, reply),
        failure -> {
          senders.followerUnreachable(target.follower(), failure);
          reap();
        });
  }

  private void onReply(SnapshotSenders.Target target, byte[] payload) {
    SnapshotFrame decoded;
    try {
      decoded = SnapshotFrameCodec.decode(payload);
    } catch (CorruptEncodingException e) {
      SnapshotSender sender = senders.running(target);
      if (sender != null) {
        sender.fail("corrupt answer: " + e.getMessage());
      }
      reap();
      return;
    }
    if (decoded instanceof SnapshotFrame.Ack ack) {
      senders.onAck(target.follower(), ack, clockMillis.getAsLong());
    }
    reap();
  }

  /** Timeouts, held Ends and window refills of every running transfer; call once per tick. */
  public void onTimer() {
    senders.onTimer(clockMillis.getAsLong());
    reap();
  }

  /**
   * Settles ended transfers: a failed one delays the next attempt for its follower (1 s, doubling
   * to {@link #RETRY_BACKOFF_MILLIS_MAX}), so a follower that is down does not cost a storage
   * snapshot every few ticks; a completed one clears the delay.
   */
  private void reap() {
    long now = clockMillis.getAsLong();
    var entries = started.entrySet().iterator();
    while (entries.hasNext()) {
      var entry = entries.next();
      SnapshotSenders.Target target = entry.getKey();
      if (senders.running(target) == entry.getValue()) {
        continue;
      }
      entries.remove();
      SnapshotSender.Progress progress = entry.getValue().progress();
      if (progress.status() == SnapshotSender.Status.DONE) {
        retryAtMillis.remove(target);
        retryBackoffMillis.remove(target);
        log.info(
            "group {}/{}: snapshot for {} done: {} keys, {} bytes",
            target.keyspace(),
            target.partition(),
            host.memberOf(target.follower()),
            progress.keysSent(),
            progress.bytesSent());
        continue;
      }
      long backoff =
          Math.min(
              RETRY_BACKOFF_MILLIS_MAX,
              2 * retryBackoffMillis.getOrDefault(target, RETRY_BACKOFF_MILLIS_MIN / 2));
      retryBackoffMillis.put(target, backoff);
      retryAtMillis.put(target, now + backoff);
      log.warn(
          "group {}/{}: snapshot for {} failed after {} keys ({}); next attempt in {} ms at the"
              + " earliest",
          target.keyspace(),
          target.partition(),
          host.memberOf(target.follower()),
          progress.keysSent(),
          progress.failure(),
          backoff);
    }
  }

  /** The first delay after a failed transfer before the next attempt to the same follower. */
  static final long RETRY_BACKOFF_MILLIS_MIN = 1_000;

  /** The longest delay between attempts to one follower. */
  static final long RETRY_BACKOFF_MILLIS_MAX = 16_000;

  // ---------------------------------------------------------------- follower side

  /** Takes one snapshot frame from a leader and returns the encoded answer. */
  public byte[] onFrame(byte[] payload) {
    SnapshotFrame frame = SnapshotFrameCodec.decode(payload);
    return SnapshotFrameCodec.encode(receiver.onFrame(frame));
  }

  /**
   * True while a transfer into this node's replica of the group runs: its replication input is held
   * back (dropped: the leader resends), so its log cannot move under the install.
   */
  public boolean receiving(int keyspace, int group) {
    return receiver.receiving(keyspace, group);
  }

  private final class Acceptor implements SnapshotReceiver.Acceptor {
    @Override
    public String refusal(SnapshotFrame.Begin begin) {
      PartitionReplica replica = host.replica(begin.keyspace(), begin.partition());
      if (replica == null) {
        return "no replica of group " + begin.partition() + " of keyspace " + begin.keyspace();
      }
      if (!replica.acceptsSnapshot(begin.epoch(), begin.leader(), begin.lsn())) {
        return "replica not ready for a snapshot at "
            + begin.lsn()
            + " from n"
            + begin.leader()
            + " in epoch "
            + begin.epoch()
            + ": role "
            + replica.role()
            + " epoch "
            + replica.epoch()
            + " leader n"
            + replica.leaderId()
            + " log ends at "
            + replica.lastLsn();
      }
      long leaderFirst = replica.snapshotNeededFirstOffset();
      if (leaderFirst == 0) {
        return "not awaiting a snapshot: no SnapshotNeeded from the leader since its last Append";
      }
      if (replica.lastLsn().offset() >= leaderFirst - 1) {
        // A leader that had not heard from it yet asked too early (a retransmit from offset 1).
        return "its log ends at "
            + replica.lastLsn()
            + ", where the leader's log (from offset "
            + leaderFirst
            + ") continues: no snapshot needed";
      }
      if (host.slots(begin.keyspace(), begin.partition()) == null) {
        return "group " + begin.partition() + " is not in this node's view";
      }
      log.info(
          "group {}/{}: receiving a snapshot at {} from {}; this log ends at {} and the leader's"
              + " log holds none of what this replica lacks",
          begin.keyspace(),
          begin.partition(),
          begin.lsn(),
          host.memberOf(begin.leader()),
          replica.lastLsn());
      return null;
    }

    @Override
    public BitSet slots(int keyspace, int partition) {
      return host.slots(keyspace, partition);
    }

    @Override
    public void installed(SnapshotReceiver.Installed installed) {
      PartitionReplica replica = host.replica(installed.keyspace(), installed.partition());
      boolean done =
          replica != null
              && replica.installSnapshot(
                  installed.epoch(), installed.leader(), installed.lsn(), Map.of());
      if (!done) {
        installsRefused++;
        log.error(
            "group {}/{}: snapshot at {} loaded ({} keys) but the replica refused to install it;"
                + " it waits for another",
            installed.keyspace(),
            installed.partition(),
            installed.lsn(),
            installed.keys());
        return;
      }
      log.info(
          "group {}/{}: installed a snapshot at {} ({} keys, {} bytes); the log continues after it",
          installed.keyspace(),
          installed.partition(),
          installed.lsn(),
          installed.keys(),
          installed.bytes());
      host.changed(installed.keyspace(), installed.partition());
    }

    @Override
    public void abandoned(int keyspace, int partition, String reason) {
      log.warn("group {}/{}: snapshot transfer abandoned: {}", keyspace, partition, reason);
    }
  }

  // ---------------------------------------------------------------- inspection

  /** Counters and gauges for INFO replication and /metrics, by name. */
  public Map<String, Long> counters() {
    SnapshotSenders.Totals totals = senders.totals();
    Map<String, Long> out = new LinkedHashMap<>();
    out.put("snapshot_transfers_started", totals.transfersStarted());
    out.put("snapshot_transfers_done", totals.transfersDone());
    out.put("snapshot_transfers_failed", totals.transfersFailed());
    out.put("snapshot_transfers_running", (long) totals.running());
    out.put("snapshot_keys_sent", totals.keysSent());
    out.put("snapshot_bytes_sent", totals.bytesSent());
    out.put("snapshot_keys_total_running", totals.keysTotalMax());
    out.put("snapshot_installs", receiver.installs());
    out.put("snapshot_install_refusals", installsRefused);
    out.put("snapshot_frames_refused", receiver.refusals());
    out.put("snapshot_receiving", (long) receiver.transfersRunning());
    out.put("snapshot_deferred_leader_not_ready", notStartedLeaderNotReady);
    return out;
  }

  /**
   * One line per running transfer from this node, for INFO replication: {@code snapshot_K_G_member}
   * to its progress (keys and bytes sent, the snapshot's key bound, bytes unacknowledged, the LSN
   * it stands for).
   */
  public Map<String, String> transfers() {
    Map<String, String> out = new LinkedHashMap<>();
    started.forEach(
        (target, sender) -> {
          SnapshotSender.Progress p = sender.progress();
          if (p.status() != SnapshotSender.Status.RUNNING) {
            return;
          }
          out.put(
              "snapshot_"
                  + target.keyspace()
                  + "_"
                  + target.partition()
                  + "_"
                  + host.memberOf(target.follower()),
              "keys_sent="
                  + p.keysSent()
                  + ",bytes_sent="
                  + p.bytesSent()
                  + ",keys_total_at_most="
                  + p.keysTotalAtMost()
                  + ",unacked_bytes="
                  + p.unackedBytes()
                  + ",frames_sent="
                  + p.framesSent());
        });
    return out;
  }

  /** Stops every running transfer. */
  @Override
  public void close() {
    senders.close();
  }
}
