package io.replicakv.server.replication;

import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.util.Check;

/**
 * One single-leader message addressed to one partition of one keyspace, as carried in a {@link
 * ReplicationFrameCodec} frame.
 *
 * @param keyspace keyspace number, {@code [0, 65535]}
 * @param partition partition id within the keyspace ({@link PartitionMap.Partition#id()})
 * @param message the replica or controller message
 */
public record PartitionMessage(int keyspace, int partition, SingleLeaderMessage message) {
  /** Largest keyspace number a frame can address (u16). */
  public static final int KEYSPACE_MAX = 0xFFFF;

  public PartitionMessage {
    Check.argument(
        keyspace >= 0 && keyspace <= KEYSPACE_MAX,
        "keyspace %s outside 0..%s",
        keyspace,
        KEYSPACE_MAX);
    Check.argument(partition >= 0, "partition %s negative", partition);
    Check.notNull(message, "message");
  }
}
