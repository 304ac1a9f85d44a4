package io.replicakv.core.msg;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * The single-leader partition protocol (see {@code io.replicakv.core.single}): log shipping between
 * a partition's leader and followers, the OffsetForLeaderEpoch exchange (Kafka KIP-101) a follower
 * runs before it accepts a new leader's entries, and the heartbeats, fencing and announcements
 * between replicas and the controller that elects leaders.
 *
 * <p>Every message carries the sender's epoch. A replica refuses replication messages from an epoch
 * older than the newest it has promised to honour, and answers so that the sender learns the newer
 * epoch.
 */
public sealed interface SingleLeaderMessage extends PeerMessage
    permits SingleLeaderMessage.Append,
        SingleLeaderMessage.AppendAck,
        SingleLeaderMessage.EpochQuery,
        SingleLeaderMessage.EpochAnswer,
        SingleLeaderMessage.Heartbeat,
        SingleLeaderMessage.Leadership,
        SingleLeaderMessage.Fence,
        SingleLeaderMessage.FenceAck,
        SingleLeaderMessage.Drain,
        SingleLeaderMessage.Drained,
        SingleLeaderMessage.SnapshotNeeded {

  /** Entries one Append may carry; the leader's flow control usually sends fewer. */
  int ENTRIES_PER_APPEND_MAX = 1024;

  /**
   * One log entry. {@code operation} is null for the epoch-start marker a new leader writes first
   * (so that its epoch is in the log before anything of an older epoch is counted as committed).
   * The operation is either the simulator's register {@link Operation.Put} or the server's opaque
   * {@link Operation.Write}, whose bytes the replication layer never interprets.
   */
  record Entry(long epoch, long offset, Operation.Mutation operation) {
    public Entry {
      Check.argument(epoch >= 1, "epoch %s below 1", epoch);
      Check.argument(offset >= 1, "offset %s below 1", offset);
    }

    /** The entry's position. */
    public Lsn lsn() {
      return new Lsn(epoch, offset);
    }

    /** True for the epoch-start marker, which carries no client write. */
    public boolean isMarker() {
      return operation == null;
    }

    /** Rough wire size, for flow control. */
    public int sizeBytes() {
      return 24 + (operation == null ? 0 : operation.sizeBytes());
    }
  }

  /**
   * Entries that follow {@code previous} in the leader's log, and the leader's commit point (high
   * watermark). An Append with no entries is a heartbeat that carries the commit point.
   */
  record Append(int from, int to, long epoch, Lsn previous, List<Entry> entries, long commitOffset)
      implements SingleLeaderMessage {
    public Append {
      entries = List.copyOf(entries);
      Check.argument(
          entries.size() <= ENTRIES_PER_APPEND_MAX,
          "%s entries over %s",
          entries.size(),
          ENTRIES_PER_APPEND_MAX);
      for (int i = 0; i < entries.size(); i++) {
        Check.argument(
            entries.get(i).offset() == previous.offset() + 1 + i,
            "entry %s has offset %s, expected %s",
            i,
            entries.get(i).offset(),
            previous.offset() + 1 + i);
      }
      Check.argument(commitOffset >= 0, "commitOffset %s negative", commitOffset);
    }
  }

  /**
   * A follower's answer to an {@link Append}. When {@code accepted}, the follower durably holds the
   * leader's log up to {@code matchOffset}. When not, either the sender's epoch is stale ({@code
   * epoch} is then the follower's newer one) or the Append started past the follower's verified log
   * end, which {@code matchOffset} reports so the leader resends from there.
   */
  record AppendAck(int from, int to, long epoch, long matchOffset, boolean accepted)
      implements SingleLeaderMessage {
    public AppendAck {
      Check.argument(matchOffset >= 0, "matchOffset %s negative", matchOffset);
    }
  }

  /** KIP-101 OffsetForLeaderEpoch: where does {@code lastEpoch} end in the leader's log? */
  record EpochQuery(int from, int to, long epoch, long lastEpoch) implements SingleLeaderMessage {}

  /**
   * The leader's answer to an {@link EpochQuery}: {@code end.epoch()} is the largest epoch of its
   * log not above the queried one and {@code end.offset()} the last offset of that epoch there.
   */
  record EpochAnswer(int from, int to, long epoch, long queriedEpoch, Lsn end)
      implements SingleLeaderMessage {}

  /**
   * A replica's report to the controller: its last log position and whether it leads {@code epoch}.
   * {@code senderTick} is the sender's own tick count, echoed back in a lease grant.
   */
  record Heartbeat(
      int from,
      int to,
      long epoch,
      Lsn lastLsn,
      boolean leading,
      long senderIncarnation,
      long senderTick)
      implements SingleLeaderMessage {}

  /**
   * The controller's announcement of the partition's leader for {@code epoch} ({@code leader} is -1
   * while an election runs). When it answers a leader's {@link Heartbeat} it also grants a lease
   * counted from that heartbeat's {@code senderTick}, echoed in {@code leaseFromTick} (-1: no
   * grant) with the sender's incarnation, so that a grant meant for a replica's previous life
   * (whose tick counter restarted) is never mistaken for a fresh one.
   */
  record Leadership(
      int from, int to, long epoch, int leader, long leaseIncarnation, long leaseFromTick)
      implements SingleLeaderMessage {}

  /** The controller starts epoch {@code epoch}: stop honouring older epochs and report your log. */
  record Fence(int from, int to, long epoch) implements SingleLeaderMessage {}

  /**
   * A replica durably honours only epochs from {@code epoch} on; its log ends at {@code lastLsn}.
   */
  record FenceAck(int from, int to, long epoch, Lsn lastLsn) implements SingleLeaderMessage {}

  /**
   * Planned switchover: the leader of {@code epoch} stops taking writes until {@code target} has
   * all.
   */
  record Drain(int from, int to, long epoch, int target) implements SingleLeaderMessage {}

  /**
   * The drained leader's report: writes stopped and {@code target} holds its log up to {@code end}.
   */
  record Drained(int from, int to, long epoch, int target, Lsn end)
      implements SingleLeaderMessage {}

  /**
   * The leader of {@code epoch} no longer holds the entries this follower needs next: its log now
   * starts at {@code firstOffset} (retention trimmed the rest). The follower gets a partition
   * snapshot instead, taken at the leader's commit point, and continues the log after it. {@code
   * historyStartEpoch} is the oldest epoch whose end the leader's log can tell; a follower whose
   * last epoch is older cannot learn where its log parts from the leader's, so it keeps only its
   * committed prefix.
   */
  record SnapshotNeeded(int from, int to, long epoch, long firstOffset, long historyStartEpoch)
      implements SingleLeaderMessage {
    public SnapshotNeeded {
      Check.argument(firstOffset >= 1, "firstOffset %s below 1", firstOffset);
      Check.argument(historyStartEpoch >= 0, "historyStartEpoch %s negative", historyStartEpoch);
    }
  }
}
