package io.replicakv.core.msg;

/**
 * A message between replicas. Every one names its sender, its destination and the sender's epoch,
 * so a receiver can refuse messages from a deposed leader (fencing) before looking inside.
 *
 * <p>Each protocol contributes one sealed family to the {@code permits} clause.
 */
public sealed interface PeerMessage extends Message
    permits LogMessage, SingleLeaderMessage, LeaderlessMessage, SiteMessage {
  /** Sending node id. */
  int from();

  /** Destination node id. */
  int to();

  /** The sender's epoch (leadership term) when it sent the message. */
  long epoch();
}
