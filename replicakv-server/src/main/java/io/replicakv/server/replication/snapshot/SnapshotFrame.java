package io.replicakv.server.replication.snapshot;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.util.Check;
import java.util.List;

/**
 * One frame of a partition snapshot transfer. A transfer is named by the partition ({@code
 * keyspace}, {@code partition}) and a {@code transferId} the sender chose; its frames are numbered
 * from 0 ({@link Begin}) through the chunks to the {@link End}, and the receiver takes them only in
 * that order. Every frame but the {@link Ack} goes from the leader's node to the follower's; each
 * is answered by one {@link Ack} naming its sequence number.
 */
public sealed interface SnapshotFrame {
  /** Keyspace of the partition. */
  int keyspace();

  /** Partition id (its token's slot) within the keyspace. */
  int partition();

  /** The sender's name for this attempt; a new attempt after a failure has a new one. */
  long transferId();

  /** Position of this frame in the transfer: 0 for Begin, then 1, 2, ... */
  long sequence();

  /**
   * Starts a transfer: the state of the partition at {@code lsn}, the commit point of {@code
   * leader}, which leads {@code epoch}; at most {@code keysTotalAtMost} keys follow.
   */
  record Begin(
      int keyspace,
      int partition,
      long transferId,
      long epoch,
      int leader,
      Lsn lsn,
      long keysTotalAtMost)
      implements SnapshotFrame {
    public Begin {
      checkIds(keyspace, partition);
      Check.argument(epoch >= 1, "epoch %s below 1", epoch);
      Check.argument(leader >= 0, "leader %s negative", leader);
      Check.argument(lsn.epoch() <= epoch, "lsn %s from a later epoch than %s", lsn, epoch);
      Check.argument(keysTotalAtMost >= 0, "keysTotalAtMost %s negative", keysTotalAtMost);
    }

    @Override
    public long sequence() {
      return 0;
    }
  }

  /**
   * Keys of the partition as storage snapshot entries ({@code MemoryState.encodeEntry}), the {@code
   * sequence}-th frame of the transfer. May be empty (the walk passed other slots).
   */
  record Chunk(int keyspace, int partition, long transferId, long sequence, List<byte[]> entries)
      implements SnapshotFrame {
    public Chunk {
      checkIds(keyspace, partition);
      Check.argument(sequence >= 1, "chunk sequence %s below 1", sequence);
      entries = List.copyOf(entries);
      Check.argument(
          entries.size() <= SnapshotFrameCodec.ENTRIES_PER_CHUNK_MAX,
          "%s entries over %s",
          entries.size(),
          SnapshotFrameCodec.ENTRIES_PER_CHUNK_MAX);
    }

    /** Bytes of the entries. */
    public long entryBytes() {
      long bytes = 0;
      for (byte[] entry : entries) {
        bytes += entry.length;
      }
      return bytes;
    }
  }

  /** Ends a transfer: {@code keys} entries of {@code bytes} bytes were sent in all. */
  record End(int keyspace, int partition, long transferId, long sequence, long keys, long bytes)
      implements SnapshotFrame {
    public End {
      checkIds(keyspace, partition);
      Check.argument(sequence >= 1, "end sequence %s below 1", sequence);
      Check.argument(keys >= 0 && bytes >= 0, "keys %s bytes %s", keys, bytes);
    }
  }

  /**
   * The receiver's answer to frame {@code sequence}: taken ({@code refusal} empty), or refused with
   * the reason, which ends the transfer; the sender starts again from scratch with a new id.
   */
  record Ack(int keyspace, int partition, long transferId, long sequence, String refusal)
      implements SnapshotFrame {
    public Ack {
      checkIds(keyspace, partition);
      Check.argument(sequence >= 0, "ack sequence %s negative", sequence);
      Check.notNull(refusal, "refusal");
      Check.argument(
          refusal.length() <= SnapshotFrameCodec.REFUSAL_CHARS_MAX,
          "refusal of %s chars",
          refusal.length());
    }

    /** True when the frame was taken. */
    public boolean accepted() {
      return refusal.isEmpty();
    }
  }

  private static void checkIds(int keyspace, int partition) {
    Check.argument(
        keyspace >= 0 && keyspace <= SnapshotFrameCodec.KEYSPACE_MAX, "keyspace %s", keyspace);
    Check.argument(partition >= 0, "partition %s negative", partition);
  }
}
