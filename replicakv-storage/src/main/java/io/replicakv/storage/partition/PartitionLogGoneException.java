package io.replicakv.storage.partition;

import java.io.IOException;

/**
 * A partition's entries from the requested offset are no longer in the log (retention removed them
 * after a snapshot): the follower asking for them needs a partition snapshot first.
 */
public final class PartitionLogGoneException extends IOException {
  private static final long serialVersionUID = 1L;

  /** The first offset the log still holds for the partition. */
  private final long firstOffset;

  PartitionLogGoneException(int partition, long requested, long firstOffset) {
    super(
        "partition "
            + partition
            + ": offset "
            + requested
            + " is below the first offset still held, "
            + firstOffset
            + "; the follower needs a snapshot");
    this.firstOffset = firstOffset;
  }

  /** The first offset the log still holds for the partition. */
  public long firstOffset() {
    return firstOffset;
  }
}
