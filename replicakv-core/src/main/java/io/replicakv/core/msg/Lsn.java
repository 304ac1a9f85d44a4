package io.replicakv.core.msg;

import io.replicakv.core.util.Check;

/**
 * Log sequence number of a single-leader partition log: the epoch of the leader that wrote an entry
 * and the entry's offset. Ordered by epoch first, then offset, which is the order in which
 * elections compare replicas' logs (a later epoch's log wins even if shorter). Also the session
 * token a client carries for read-your-writes and monotonic reads.
 *
 * @param epoch leader epoch, 0 before any leader
 * @param offset position in the log, 0 for "nothing"
 */
public record Lsn(long epoch, long offset) implements Comparable<Lsn> {
  /** Before the first entry; also "no session token". */
  public static final Lsn ZERO = new Lsn(0, 0);

  public Lsn {
    Check.argument(epoch >= 0, "epoch %s negative", epoch);
    Check.argument(offset >= 0, "offset %s negative", offset);
  }

  @Override
  public int compareTo(Lsn other) {
    int byEpoch = Long.compare(epoch, other.epoch);
    return byEpoch != 0 ? byEpoch : Long.compare(offset, other.offset);
  }

  /** The larger of the two. */
  public static Lsn max(Lsn a, Lsn b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  @Override
  public String toString() {
    return epoch + ":" + offset;
  }
}
