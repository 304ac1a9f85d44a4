package io.replicakv.core.single;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.Ready;
import io.replicakv.core.ReadyBuffer;
import io.replicakv.core.Replica;
import io.replicakv.core.msg.ClientReply;
import io.replicakv.core.msg.ClientRequest;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Message;
import io.replicakv.core.msg.PeerMessage;
import io.replicakv.core.msg.Reply;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.util.Check;
import java.util.Map;
import java.util.TreeMap;

/**
 * The part of the metadata leader that decides who leads one single-leader partition, as a pure
 * state machine. In the server this runs on the metadata (Raft) leader and each decision is a
 * metadata change; in the simulator it is a replica on a node of its own. Its own durable state is
 * the decided epoch and leader, synced before anyone hears of them.
 *
 * <p><b>Failure detection.</b> Replicas heartbeat every few ticks with their last LSN. The current
 * leader's heartbeats (and only those that say it leads the current epoch) are answered with a
 * lease grant (see {@link PartitionReplica} for the clock argument). When the leader has been
 * silent for {@code failoverTimeoutTicks}, counted from the arrival of its last heartbeat, the
 * controller starts an election. A restarted controller counts silence from its restart, which is
 * never earlier than any grant it made before.
 *
 * <p><b>Election.</b> Bump the epoch (persisted), send every replica a {@link
 * SingleLeaderMessage.Fence}: a replica that answers has durably stopped honouring older epochs and
 * reports its last LSN. Once {@link SingleLeaderConfig#fenceAnswersNeeded()} replicas have
 * answered, at least one of them holds every acknowledged write (the arithmetic is on that method),
 * and no further write can be acknowledged in an old epoch: that would need a fenced replica. The
 * answer with the highest LSN (epoch, then offset) becomes leader; ties go to the replica listed
 * first in the config (the preference list: the token owner). The decision is persisted, then
 * announced ({@link SingleLeaderMessage.Leadership}) and repeated in every heartbeat answer, so
 * lost announcements heal. Fences are resent every {@link #FENCE_RETRY_TICKS} until enough answers
 * arrive; with too few replicas reachable the partition stays leaderless, which is the price of not
 * losing acknowledged writes.
 *
 * <p><b>Planned switchover</b> ({@link #switchover(int)}): the leader is told to drain (refuse new
 * writes and reads, finish pending ones) and to report once the target holds its whole log; only
 * then is the target announced under the next epoch. Nothing is lost, even with {@code acks=none}.
 * If the drain does not finish within {@link #SWITCHOVER_TIMEOUT_TICKS}, the controller falls back
 * to an ordinary election: the drained leader never resumes by itself, because a resumed old-epoch
 * leader racing a new one is exactly the loss this protocol exists to prevent.
 */
public final class PartitionController implements Replica {
  /** Ticks between two rounds of fences while an election waits for answers. */
  public static final long FENCE_RETRY_TICKS = 3;

  /** Ticks between two Drain requests while a switchover waits. */
  public static final long DRAIN_RETRY_TICKS = 3;

  /** A switchover not drained after this many ticks becomes an ordinary election. */
  public static final long SWITCHOVER_TIMEOUT_TICKS = 100;

  /** What the controller is doing. */
  public enum Phase {
    STEADY,
    ELECTING,
    SWITCHING_OVER
  }

  private final int nodeId;
  private final SingleLeaderConfig config;
  private final ReadyBuffer out = new ReadyBuffer();
  private final Map<Integer, Lsn> fenceAnswers = new TreeMap<>();
  private final Map<Integer, Lsn> lastReported = new TreeMap<>();
  private long epoch;
  private int leader = -1;
  private Phase phase = Phase.STEADY;
  private long nowTick;
  private long lastLeaderHeartbeatTick;
  private long phaseStartTick;
  private long lastRetryTick;
  private int switchoverTarget = -1;
  private long elections;
  private long switchovers;

  /** The controller of {@code config}'s partition, rebuilt from its persisted decisions. */
  public PartitionController(
      int nodeId, SingleLeaderConfig config, Iterable<PersistRecord> recovered) {
    Check.argument(nodeId == config.controllerId(), "n%s is not controller %s", nodeId, config);
    this.nodeId = nodeId;
    this.config = config;
    for (PersistRecord record : recovered) {
      if (!(ReplicaRecords.decode(record) instanceof ReplicaRecords.ControllerState decided)) {
        throw new IllegalStateException("replica record on controller n" + nodeId);
      }
      Check.state(
          decided.epoch() >= epoch, "controller epoch went from %s to %s", epoch, decided.epoch());
      epoch = decided.epoch();
      leader = decided.leader();
    }
    if (leader < 0) {
      // Never decided (or crashed mid-election): elect now rather than wait for a silence.
      startElection();
    }
  }

  @Override
  public void step(Message message) {
    switch (message) {
      case ClientRequest request ->
          out.reply(
              ClientReply.to(
                  request, new Reply.Rejected("MOVED controller n" + nodeId + " serves no data")));
      case SingleLeaderMessage peer -> onPeerMessage(peer);
      case PeerMessage other -> throw new IllegalArgumentException("controller got " + other);
    }
  }

  private void onPeerMessage(SingleLeaderMessage message) {
    Check.argument(
        config.replicas().contains(message.from()), "controller input from n%s", message.from());
    switch (message) {
      case SingleLeaderMessage.Heartbeat heartbeat -> onHeartbeat(heartbeat);
      case SingleLeaderMessage.FenceAck ack -> onFenceAck(ack);
      case SingleLeaderMessage.Drained drained -> onDrained(drained);
      default -> throw new IllegalArgumentException("controller got replica input " + message);
    }
  }

  @Override
  public void tick() {
    nowTick++;
    switch (phase) {
      case STEADY -> {
        if (nowTick - lastLeaderHeartbeatTick > config.failoverTimeoutTicks()) {
          startElection();
        }
      }
      case ELECTING -> {
        if (nowTick - lastRetryTick >= FENCE_RETRY_TICKS) {
          sendFences();
        }
      }
      case SWITCHING_OVER -> {
        if (nowTick - lastLeaderHeartbeatTick > config.failoverTimeoutTicks()
            || nowTick - phaseStartTick > SWITCHOVER_TIMEOUT_TICKS) {
          startElection();
        } else if (nowTick - lastRetryTick >= DRAIN_RETRY_TICKS) {
          sendDrain();
        }
      }
    }
  }

  @Override
  public Ready ready() {
    return out.ready();
  }

  @Override
  public void advance(Ready done) {
    out.advance(done);
  }

  /**
   * Starts a planned switchover to {@code target}. Returns false (and does nothing) when no leader
   * is in place, another change is running, or {@code target} is not another replica.
   */
  public boolean switchover(int target) {
    if (phase != Phase.STEADY
        || leader < 0
        || target == leader
        || !config.replicas().contains(target)) {
      return false;
    }
    phase = Phase.SWITCHING_OVER;
    switchoverTarget = target;
    phaseStartTick = nowTick;
    sendDrain();
    return true;
  }

  private void onHeartbeat(SingleLeaderMessage.Heartbeat heartbeat) {
    lastReported.put(heartbeat.from(), heartbeat.lastLsn());
    boolean fromLeader =
        phase != Phase.ELECTING
            && heartbeat.from() == leader
            && heartbeat.epoch() == epoch
            && heartbeat.leading();
    if (fromLeader) {
      lastLeaderHeartbeatTick = nowTick;
    }
    out.send(
        new SingleLeaderMessage.Leadership(
            nodeId,
            heartbeat.from(),
            epoch,
            phase == Phase.ELECTING ? -1 : leader,
            heartbeat.senderIncarnation(),
            fromLeader ? heartbeat.senderTick() : -1));
  }

  private void startElection() {
    elections++;
    epoch++;
    leader = -1;
    phase = Phase.ELECTING;
    phaseStartTick = nowTick;
    switchoverTarget = -1;
    fenceAnswers.clear();
    out.persist(ReplicaRecords.controller(epoch, -1), true);
    sendFences();
  }

  private void sendFences() {
    lastRetryTick = nowTick;
    for (int replica : config.replicas()) {
      if (!fenceAnswers.containsKey(replica)) {
        out.send(new SingleLeaderMessage.Fence(nodeId, replica, epoch));
      }
    }
  }

  private void onFenceAck(SingleLeaderMessage.FenceAck ack) {
    if (phase != Phase.ELECTING || ack.epoch() != epoch) {
      return;
    }
    fenceAnswers.put(ack.from(), ack.lastLsn());
    if (fenceAnswers.size() < config.fenceAnswersNeeded()) {
      return;
    }
    // Ties go to the replica listed first: the preference list's order, so that leadership of
    // many partitions spreads over their token owners instead of piling onto one node.
    int best = -1;
    for (int replica : config.replicas()) {
      Lsn answer = fenceAnswers.get(replica);
      if (answer != null && (best < 0 || answer.compareTo(fenceAnswers.get(best)) > 0)) {
        best = replica;
      }
    }
    decide(epoch, best);
  }

  private void sendDrain() {
    lastRetryTick = nowTick;
    out.send(new SingleLeaderMessage.Drain(nodeId, leader, epoch, switchoverTarget));
  }

  private void onDrained(SingleLeaderMessage.Drained drained) {
    if (phase != Phase.SWITCHING_OVER
        || drained.epoch() != epoch
        || drained.from() != leader
        || drained.target() != switchoverTarget) {
      return;
    }
    switchovers++;
    decide(epoch + 1, switchoverTarget);
  }

  /** Persists and announces {@code newLeader} for {@code newEpoch}. */
  private void decide(long newEpoch, int newLeader) {
    Check.state(newEpoch >= epoch, "decide epoch %s below %s", newEpoch, epoch);
    epoch = newEpoch;
    leader = newLeader;
    phase = Phase.STEADY;
    switchoverTarget = -1;
    fenceAnswers.clear();
    // The new leader gets a full failover timeout to start heartbeating.
    lastLeaderHeartbeatTick = nowTick;
    out.persist(ReplicaRecords.controller(epoch, leader), true);
    for (int replica : config.replicas()) {
      out.send(new SingleLeaderMessage.Leadership(nodeId, replica, epoch, leader, 0, -1));
    }
  }

  /**
   * A decision the controller persisted: {@code leader} leads {@code epoch} (-1: an election of
   * that epoch started). The server keeps decisions in its cluster metadata rather than in a file,
   * and rebuilds a controller from them with {@link #record()}.
   */
  public record Decision(long epoch, int leader) {
    /** The decision {@code record} holds, or null when it is not a controller record. */
    public static Decision of(PersistRecord record) {
      return ReplicaRecords.decode(record) instanceof ReplicaRecords.ControllerState state
          ? new Decision(state.epoch(), state.leader())
          : null;
    }

    /** The record a controller recovering this decision is given. */
    public PersistRecord record() {
      return ReplicaRecords.controller(epoch, leader);
    }
  }

  /** Current epoch. */
  public long epoch() {
    return epoch;
  }

  /** Decided leader, -1 while electing. */
  public int leader() {
    return phase == Phase.ELECTING ? -1 : leader;
  }

  /** What the controller is doing. */
  public Phase phase() {
    return phase;
  }

  /** Elections started so far by this incarnation (a metric: failovers). */
  public long elections() {
    return elections;
  }

  /** Switchovers completed by this incarnation. */
  public long switchovers() {
    return switchovers;
  }

  /** Each replica's last reported LSN, for lag display. */
  public Map<Integer, Lsn> lastReported() {
    return Map.copyOf(lastReported);
  }
}
