package io.replicakv.storage.partition;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.util.Check;
import java.util.Arrays;

/**
 * One partition log entry as read back: its LSN, the log sequence it sits at, and its body.
 *
 * @param epoch leader epoch that wrote the entry
 * @param offset position in the partition log, from 1
 * @param sequence the record's sequence in the node's physical log
 * @param body the entry's bytes, owned by the caller
 */
public record PartitionEntry(long epoch, long offset, long sequence, byte[] body) {
  public PartitionEntry {
    Check.argument(epoch >= 1, "epoch %s below 1", epoch);
    Check.argument(offset >= 1, "offset %s below 1", offset);
    Check.notNull(body, "body");
  }

  /** The entry's position. */
  public Lsn lsn() {
    return new Lsn(epoch, offset);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof PartitionEntry e
        && epoch == e.epoch
        && offset == e.offset
        && sequence == e.sequence
        && Arrays.equals(body, e.body);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(sequence) * 31 + Arrays.hashCode(body);
  }

  @Override
  public String toString() {
    return "PartitionEntry[" + epoch + ":" + offset + " @" + sequence + ", " + body.length + " B]";
  }
}
