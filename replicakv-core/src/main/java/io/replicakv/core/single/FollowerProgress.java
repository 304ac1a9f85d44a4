package io.replicakv.core.single;

/**
 * What a leader knows about one follower during one epoch: where to send next, what the follower
 * durably holds ({@code matchOffset}), when it last answered, and whether it is in sync. Reset when
 * the leader's epoch starts; lives only in the leader's memory.
 */
final class FollowerProgress {
  final int nodeId;

  /**
   * First offset of the next Append; entries in {@code (matchOffset, nextOffset)} are in flight.
   */
  long nextOffset;

  /** The follower holds the leader's log up to here, durably. */
  long matchOffset;

  long lastAckTick;
  long lastProgressTick;
  long lastSendTick;
  long lastSnapshotNeededTick;
  long snapshotsNeeded;
  boolean inSync = true;

  /** Whether the follower accepted an Append of this leader's epoch (so matchOffset is real). */
  boolean matchKnown;

  FollowerProgress(int nodeId, long nextOffset, long nowTick) {
    this.nodeId = nodeId;
    this.nextOffset = nextOffset;
    this.lastAckTick = nowTick;
    this.lastProgressTick = nowTick;
    this.lastSendTick = Long.MIN_VALUE / 2;
    this.lastSnapshotNeededTick = Long.MIN_VALUE / 2;
  }

  long inFlightRecords() {
    return Math.max(0, nextOffset - 1 - matchOffset);
  }

  @Override
  public String toString() {
    return "n"
        + nodeId
        + "[next="
        + nextOffset
        + " match="
        + matchOffset
        + (inSync ? " isr" : "")
        + "]";
  }
}
