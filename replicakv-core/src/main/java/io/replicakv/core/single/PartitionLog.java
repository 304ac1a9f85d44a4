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
 * <p><b>Base and retention.</b> The log holds the entries after its base LSN: {@link Lsn#ZERO} for
 * a log that starts at offset 1, the snapshot's LSN for a replica that installed a partition
 * snapshot ({@link #startAfter}), or the last entry retention removed ({@link #trimThrough}).
 * Everything up to the base is committed, so it never needs to be compared or truncated again; the
 * base only answers {@link #lsnAt} for its own offset, which is the "previous" of the first
 * retained entry. Trimming keeps the whole epoch table (one row per epoch, so it stays small), so
 * {@link #endOfEpoch} stays exact for every epoch that wrote here. A log started after a snapshot
 * knows its history only from the snapshot's epoch on ({@link #historyStartEpoch}): the start of
 * that epoch is recorded as the snapshot's offset, which is right for every question about that
 * epoch's end, and older epochs are unknown.
 *
 * <p>Invariants, checked on every change: offsets are consecutive from the base; epochs never
 * decrease along the log; every epoch in the table that starts after the base starts at an offset
 * that holds an entry of that epoch, and the table has exactly one start per run of equal epochs.
 *
 * <p>The log lives in memory and is rebuilt from the replica's persisted records on restart; the
 * replica persists every append, truncation and snapshot install as a record in the same order it
 * applies them here. Retention is in memory only: what the disk keeps is the storage's business.
 * {@link #ENTRIES_MAX} is a hard cap on the retained entries; the replica refuses writes before it.
 */
public final class PartitionLog {
  /** Entries one log may hold after trimming; the leader refuses writes (BUSY) at this size. */
  public static final int ENTRIES_MAX = 5_000_000;

  /** Trimmed slots at the head of the list before the list is compacted, at least. */
  private static final int COMPACT_AFTER_ENTRIES_MIN = 1024;

  // entries.get(head + i) holds offset base.offset() + 1 + i; slots before head are trimmed.
  private final ArrayList<Entry> entries = new ArrayList<>();
  private int head;
  private Lsn base = Lsn.ZERO;
  private long historyStartEpoch;
  private final NavigableMap<Long, Long> epochStartOffsets = new TreeMap<>();
  // bytesThrough[i]: the sizes of every entry appended before slot i's and of slot i's own, counted
  // from an arbitrary origin (entries cut by truncation are subtracted by overwriting); bytesBefore
  // is that running sum just before slot 0. Lag in bytes is a difference of two of them.
  private long[] bytesThrough = new long[16];
  private long bytesBefore;

  /** Entries held now (after the base). */
  public int size() {
    return entries.size() - head;
  }

  /** The LSN just before the first held entry: {@link Lsn#ZERO}, a snapshot's, or trimmed. */
  public Lsn base() {
    return base;
  }

  /** Offset of the first entry this log can still hand out (base offset + 1). */
  public long firstOffset() {
    return base.offset() + 1;
  }

  /** Offset of the last entry, the base offset when empty. */
  public long endOffset() {
    return base.offset() + size();
  }

  /** Position of the last entry, the base when empty. */
  public Lsn lastLsn() {
    return size() == 0 ? base : entries.getLast().lsn();
  }

  /** Epoch of the last entry, the base's epoch when empty. */
  public long lastEpoch() {
    return size() == 0 ? base.epoch() : entries.getLast().epoch();
  }

  /**
   * The oldest epoch whose end this log can tell: 0 for a log that started at offset 1, the
   * snapshot's epoch after {@link #startAfter}.
   */
  public long historyStartEpoch() {
    return historyStartEpoch;
  }

  /**
   * Bytes ({@link Entry#sizeBytes}) of the held entries after {@code offset}: a follower's lag in
   * bytes when {@code offset} is its match offset. An offset below the base counts every held entry
   * (the trimmed ones are no longer known), so it is a lower bound there.
   */
  public long bytesAfter(long offset) {
    if (offset >= endOffset() || size() == 0) {
      return 0;
    }
    long from = Math.max(offset, base.offset());
    int slot = head + (int) (from - base.offset()) - 1;
    long before = slot < 0 ? bytesBefore : bytesThrough[slot];
    return bytesThrough[entries.size() - 1] - before;
  }

  /** The entry at {@code offset}, which must be in {@code [firstOffset, endOffset]}. */
  public Entry entry(long offset) {
    Check.argument(
        firstOffset() <= offset && offset <= endOffset(),
        "offset %s outside %s..%s",
        offset,
        firstOffset(),
        endOffset());
    return entries.get(head + (int) (offset - firstOffset()));
  }

  /** The position of {@code offset}, which must be the base offset or a held entry's. */
  public Lsn lsnAt(long offset) {
    return offset == base.offset() ? base : entry(offset).lsn();
  }

  /**
   * Forgets everything and starts after {@code lsn}, the position of an installed snapshot: empty,
   * first offset {@code lsn.offset + 1}, epoch history beginning at {@code lsn.epoch}.
   */
  public void startAfter(Lsn lsn) {
    Check.argument(lsn != null, "lsn is null");
    entries.clear();
    head = 0;
    bytesBefore = 0;
    epochStartOffsets.clear();
    base = lsn;
    historyStartEpoch = lsn.epoch();
    if (lsn.epoch() > 0) {
      epochStartOffsets.put(lsn.epoch(), lsn.offset());
    }
  }

  /**
   * Drops the entries up to {@code offset} from memory (retention); the caller guarantees that they
   * are committed and that nobody it serves needs them. A no-op at or below the base.
   */
  public void trimThrough(long offset) {
    Check.argument(offset <= endOffset(), "trim through %s past end %s", offset, endOffset());
    if (offset <= base.offset()) {
      return;
    }
    int dropped = (int) (offset - base.offset());
    base = entry(offset).lsn();
    // Null the trimmed slots so that their payloads can be collected before the next compaction.
    for (int i = head; i < head + dropped; i++) {
      entries.set(i, null);
    }
    head += dropped;
    if (head >= COMPACT_AFTER_ENTRIES_MIN && head >= entries.size() / 2) {
      bytesBefore = bytesThrough[head - 1];
      System.arraycopy(bytesThrough, head, bytesThrough, 0, entries.size() - head);
      entries.subList(0, head).clear();
      head = 0;
    }
  }

  /** Appends {@code entry}, which must follow the last entry and not lower the epoch. */
  public void append(Entry entry) {
    Check.state(size() < ENTRIES_MAX, "log holds %s entries, the most it may", ENTRIES_MAX);
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
    int slot = entries.size();
    if (slot == bytesThrough.length) {
      bytesThrough = java.util.Arrays.copyOf(bytesThrough, slot * 2);
    }
    bytesThrough[slot] = (slot == 0 ? bytesBefore : bytesThrough[slot - 1]) + entry.sizeBytes();
    entries.add(entry);
  }

  /**
   * Removes every entry after {@code offset} and returns them in log order (the divergent suffix).
   * A no-op returning nothing when the log ends at or before {@code offset}. Never cuts into the
   * base, which is committed.
   */
  public List<Entry> truncateAfter(long offset) {
    Check.argument(
        offset >= base.offset(), "truncate after %s, below the base %s", offset, base.offset());
    if (offset >= endOffset()) {
      return List.of();
    }
    List<Entry> suffix = entries.subList(head + (int) (offset - base.offset()), entries.size());
    List<Entry> cut = List.copyOf(suffix);
    suffix.clear();
    epochStartOffsets.entrySet().removeIf(start -> start.getValue() > offset);
    Check.state(
        epochStartOffsets.isEmpty() ? lastEpoch() == 0 : epochStartOffsets.lastKey() == lastEpoch(),
        "epoch table ends at %s but log at epoch %s",
        epochStartOffsets.isEmpty() ? 0 : epochStartOffsets.lastKey(),
        lastEpoch());
    return cut;
  }

  /**
   * KIP-101's OffsetForLeaderEpoch, answered from this log: the largest epoch here that is not
   * above {@code epoch}, with the last offset it wrote here. A log that starts after a base in no
   * epoch (epoch 0: an empty log, or a re-formed group's formation point) answers the base for
   * epoch 0, since every entry after it belongs to a later epoch. {@link Lsn#ZERO} when no such
   * epoch; callers check {@link #historyStartEpoch} first, below which the answer is unknown.
   */
  public Lsn endOfEpoch(long epoch) {
    Map.Entry<Long, Long> floor = epochStartOffsets.floorEntry(epoch);
    if (floor == null) {
      return base.epoch() == 0 ? base : Lsn.ZERO;
    }
    Map.Entry<Long, Long> next = epochStartOffsets.higherEntry(floor.getKey());
    long end = next == null ? endOffset() : next.getValue() - 1;
    return new Lsn(floor.getKey(), end);
  }

  /**
   * Entries from {@code fromOffset} on (at least the first offset), at most {@code maxEntries} of
   * them and at most {@code maxBytes} in total (but always one, if there is one, so a large entry
   * still moves).
   */
  public List<Entry> read(long fromOffset, int maxEntries, long maxBytes) {
    Check.argument(
        fromOffset >= firstOffset(), "read from %s, log starts at %s", fromOffset, firstOffset());
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
