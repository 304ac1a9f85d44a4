package io.replicakv.core.single;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * One replica's copy of a partition log, with its leader-epoch table (Kafka KIP-101): for every
 * epoch that wrote entries here, the offset of its first entry. The table is what lets a follower
 * find, in one round trip, the point where its log and a new leader's log part ways: ask the leader
 * where the follower's last epoch ends in the leader's log, and cut everything after.
 *
 * <p>Invariants, checked on every change: offsets are consecutive from 1; epochs never decrease
 * along the log; every epoch in the table starts at an offset that holds an entry of that epoch and
 * the table has exactly one start per run of equal epochs.
 *
 * <p>The log lives in memory and is rebuilt from the replica's persisted records on restart; the
 * replica persists every append and truncation as a record in the same order it applies them here.
 * Not done: retention and snapshots, so a log is bounded by {@link #ENTRIES_MAX} and a new follower
 * always replays from offset 1.
 */
public final class PartitionLog {
  /** Entries one log may hold; there is no retention yet, so this bounds a partition's memory. */
  public static final int ENTRIES_MAX = 5_000_000;

  private final List<Entry> entries = new ArrayList<>();
  private final NavigableMap<Long, Long> epochStartOffsets = new TreeMap<>();

  /** Offset of the last entry, 0 when empty. */
  public long endOffset() {
    return entries.size();
  }

  /** Position of the last entry, {@link Lsn#ZERO} when empty. */
  public Lsn lastLsn() {
    return entries.isEmpty() ? Lsn.ZERO : entries.getLast().lsn();
  }

  /** Epoch of the last entry, 0 when empty. */
  public long lastEpoch() {
    return entries.isEmpty() ? 0 : entries.getLast().epoch();
  }

  /** The entry at {@code offset}, which must be in {@code [1, endOffset]}. */
  public Entry entry(long offset) {
    Check.argument(
        1 <= offset && offset <= endOffset(), "offset %s outside 1..%s", offset, endOffset());
    return entries.get((int) (offset - 1));
  }

  /** The position of {@code offset} in this log; {@link Lsn#ZERO} for offset 0. */
  public Lsn lsnAt(long offset) {
    return offset == 0 ? Lsn.ZERO : entry(offset).lsn();
  }

  /** Appends {@code entry}, which must follow the last entry and not lower the epoch. */
  public void append(Entry entry) {
    Check.state(entries.size() < ENTRIES_MAX, "log holds %s entries, no retention", ENTRIES_MAX);
    Check.argument(
        entry.offset() == endOffset() + 1,
        "append at %s, log ends at %s",
        entry.offset(),
        endOffset());
    Check.argument(
        entry.epoch() >= lastEpoch(), "append epoch %s below last %s", entry.epoch(), lastEpoch());
    if (entry.epoch() != lastEpoch()) {
      epochStartOffsets.put(entry.epoch(), entry.offset());
    }
    entries.add(entry);
  }

  /**
   * Removes every entry after {@code offset} and returns them in log order (the divergent suffix).
   * A no-op returning nothing when the log ends at or before {@code offset}.
   */
  public List<Entry> truncateAfter(long offset) {
    Check.argument(offset >= 0, "truncate after %s", offset);
    if (offset >= endOffset()) {
      return List.of();
    }
    List<Entry> suffix = entries.subList((int) offset, entries.size());
    List<Entry> cut = List.copyOf(suffix);
    suffix.clear();
    epochStartOffsets.entrySet().removeIf(start -> start.getValue() > offset);
    Check.state(
        entries.isEmpty() || epochStartOffsets.lastKey() == lastEpoch(),
        "epoch table ends at %s but log at epoch %s",
        epochStartOffsets.isEmpty() ? 0 : epochStartOffsets.lastKey(),
        lastEpoch());
    return cut;
  }

  /**
   * KIP-101's OffsetForLeaderEpoch, answered from this log: the largest epoch here that is not
   * above {@code epoch}, with the last offset it wrote here. {@link Lsn#ZERO} when no such epoch.
   */
  public Lsn endOfEpoch(long epoch) {
    Map.Entry<Long, Long> floor = epochStartOffsets.floorEntry(epoch);
    if (floor == null) {
      return Lsn.ZERO;
    }
    Map.Entry<Long, Long> next = epochStartOffsets.higherEntry(floor.getKey());
    long end = next == null ? endOffset() : next.getValue() - 1;
    return new Lsn(floor.getKey(), end);
  }

  /**
   * Entries from {@code fromOffset} on, at most {@code maxEntries} of them and at most {@code
   * maxBytes} in total (but always one, if there is one, so a large entry still moves).
   */
  public List<Entry> read(long fromOffset, int maxEntries, long maxBytes) {
    Check.argument(fromOffset >= 1, "read from %s", fromOffset);
    List<Entry> batch = new ArrayList<>();
    long bytes = 0;
    for (long offset = fromOffset; offset <= endOffset() && batch.size() < maxEntries; offset++) {
      Entry entry = entry(offset);
      if (!batch.isEmpty() && bytes + entry.sizeBytes() > maxBytes) {
        break;
      }
      bytes += entry.sizeBytes();
      batch.add(entry);
    }
    return batch;
  }

  /** Epoch to its first offset here, ascending; a read-only view. */
  public Map<Long, Long> epochStartOffsets() {
    return Collections.unmodifiableMap(epochStartOffsets);
  }
}
