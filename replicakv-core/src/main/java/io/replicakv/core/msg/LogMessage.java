package io.replicakv.core.msg;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Log shipping from a leader (primary) to its followers (backups): the leader appends entries at
 * consecutive offsets and the follower acknowledges the highest offset it holds durably. The leader
 * retransmits from the follower's acknowledged offset, so loss, duplication and reordering only
 * cost time. Used by the simulator's toy registers and meant for the single-leader protocol.
 */
public sealed interface LogMessage extends PeerMessage
    permits LogMessage.Append, LogMessage.AppendAck {

  /** Entries at most one Append may carry; larger catch-up is sent in several. */
  int ENTRIES_PER_APPEND_MAX = 1024;

  /** One log entry: the operation written at {@code offset} by the leader of {@code epoch}. */
  record Entry(long epoch, long offset, Operation.Put operation) {
    public Entry {
      Check.argument(offset >= 1, "offset %s below 1", offset);
      Check.argument(operation != null, "operation is null");
    }
  }

  /**
   * Entries starting right after {@code previousOffset}; {@code commitOffset} is the leader's
   * commit point, which the follower may apply up to.
   */
  record Append(
      int from, int to, long epoch, long previousOffset, List<Entry> entries, long commitOffset)
      implements LogMessage {
    public Append {
      entries = List.copyOf(entries);
      Check.argument(
          entries.size() <= ENTRIES_PER_APPEND_MAX,
          "%s entries over %s",
          entries.size(),
          ENTRIES_PER_APPEND_MAX);
      for (int i = 0; i < entries.size(); i++) {
        Check.argument(
            entries.get(i).offset() == previousOffset + 1 + i,
            "entry %s has offset %s, expected %s",
            i,
            entries.get(i).offset(),
            previousOffset + 1 + i);
      }
    }
  }

  /**
   * The follower's answer to an {@link Append}. When {@code accepted}, it holds every entry up to
   * {@code matchOffset} as the leader sent them (durably, if its mode syncs); when not, the Append
   * started past its log and {@code matchOffset} is where its log ends, so the leader resends from
   * there.
   */
  record AppendAck(int from, int to, long epoch, long matchOffset, boolean accepted)
      implements LogMessage {
    public AppendAck {
      Check.argument(matchOffset >= 0, "matchOffset %s negative", matchOffset);
    }
  }
}
