package io.replicakv.storage.partition;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.util.Check;
import io.replicakv.storage.log.SegmentedLog;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The single-leader partition logs kept inside the node's one physical {@link SegmentedLog}, with
 * an in-memory index per partition. Many partitions share the file and its fsyncs; this class finds
 * one partition's entries in it again.
 *
 * <p><b>Records.</b> {@link #append} writes an entry with its LSN in the payload ({@link
 * PartitionRecordFormat}); {@link #truncateAfter} writes a truncation record, after which the
 * partition continues at the cut. The physical log is append-only, so an entry cut by a later
 * truncation stays on disk, stale: an entry at sequence {@code s} with offset {@code o} is live
 * unless some truncation at a sequence after {@code s} cut below {@code o}. {@link #startAfter}
 * writes a restart record when a follower installed a partition snapshot: it voids every earlier
 * entry (as a cut after offset 0 would) and the partition continues after the snapshot's LSN.
 *
 * <p><b>Index.</b> Per partition: the first offset still held, the last offset, the last epoch, the
 * truncations still on disk, and a sparse list of (offset, sequence) points, one every {@link
 * #INDEX_INTERVAL_ENTRIES} live entries plus the first held entry. Memory is about 16 bytes per
 * {@link #INDEX_INTERVAL_ENTRIES} entries per partition, bounded through retention by the log's own
 * size. A read from an offset starts at the floor point's sequence and scans forward, so it costs
 * at most {@link #INDEX_INTERVAL_ENTRIES} entries of the partition (and the records of other
 * partitions between them) before it returns the first wanted one. The index is not persisted: it
 * is rebuilt by one scan of the log on {@link #open}, so a crash can never leave it disagreeing
 * with the log it describes.
 *
 * <p><b>Retention.</b> Segments go away as a whole after a node snapshot ({@link
 * SegmentedLog#deleteSegmentsBefore}); {@link #afterSegmentsDeleted} then finds each partition's
 * first live entry still on disk. A follower asking for an offset below it gets {@link
 * PartitionLogGoneException}, which says why, and needs a partition snapshot.
 *
 * <p>Threads: called from the node loop only, like {@link SegmentedLog#append}.
 */
public final class PartitionLogs {
  /** Live entries between two sparse index points of one partition. */
  public static final int INDEX_INTERVAL_ENTRIES = 64;

  /**
   * Truncations of one partition still on disk, at most. Each follows a leader change with
   * divergent entries; past this many the partition's history is suspect and the node stops.
   */
  public static final int TRUNCATIONS_KEPT_MAX = 4_096;

  private final SegmentedLog log;
  private final Map<Integer, Index> indexes = new HashMap<>();

  private PartitionLogs(SegmentedLog log) {
    this.log = log;
  }

  /** Indexes every partition record of {@code log} (one scan) and appends to it from then on. */
  public static PartitionLogs open(SegmentedLog log) throws IOException {
    PartitionLogs logs = new PartitionLogs(log);
    log.replay(
        log.firstSequence() - 1,
        (sequence, partition, payload) -> {
          if (PartitionRecordFormat.isPartitionRecord(payload)) {
            logs.observe(sequence, partition, PartitionRecordFormat.decode(payload), true);
          }
        });
    return logs;
  }

  /**
   * Appends the entry {@code (epoch, offset)} of {@code partition}. It must follow the partition's
   * last offset; a partition with no entry yet (a follower that starts from a snapshot) may start
   * at any offset. Epochs never decrease.
   *
   * @return the record's sequence in the physical log
   */
  public long append(int partition, long epoch, long offset, byte[] body) {
    Check.argument(epoch >= 1 && offset >= 1, "entry %s:%s", epoch, offset);
    Index index = indexes.get(partition);
    if (index != null) {
      index.checkAppend(epoch, offset);
    }
    long sequence = log.append(partition, PartitionRecordFormat.entry(epoch, offset, body));
    observe(sequence, partition, PartitionRecordFormat.Decoded.entry(epoch, offset, body), false);
    return sequence;
  }

  /** Cuts {@code partition}'s log after {@code offset}; the next append continues there. */
  public long truncateAfter(int partition, long offset) {
    Check.argument(offset >= 0, "truncate after %s", offset);
    long sequence = log.append(partition, PartitionRecordFormat.truncate(offset));
    observe(sequence, partition, PartitionRecordFormat.Decoded.truncation(offset), false);
    return sequence;
  }

  /**
   * Restarts {@code partition}'s log after a partition snapshot installed at {@code lsn}: every
   * entry before is void (reads below {@code lsn.offset + 1} get {@link
   * PartitionLogGoneException}), and the next append is {@code lsn.offset + 1}, of an epoch not
   * below {@code lsn.epoch}.
   */
  public long startAfter(int partition, Lsn lsn) {
    Check.notNull(lsn, "lsn");
    long sequence =
        log.append(partition, PartitionRecordFormat.startAfter(lsn.epoch(), lsn.offset()));
    observe(
        sequence,
        partition,
        new PartitionRecordFormat.Decoded(
            PartitionRecordFormat.START_AFTER, lsn.epoch(), lsn.offset(), null),
        false);
    return sequence;
  }

  /**
   * The LSN of the partition's last restart after a snapshot ({@link #startAfter}) whose record is
   * still in the log, or {@link Lsn#ZERO}: what a replica rebuilt from this log starts after,
   * unless a node snapshot covers more.
   */
  public Lsn base(int partition) {
    Index index = indexes.get(partition);
    return index == null ? Lsn.ZERO : index.base;
  }

  /** The partitions with any record in the log, ascending. */
  public Set<Integer> partitions() {
    return Collections.unmodifiableSet(new TreeSet<>(indexes.keySet()));
  }

  /** Offset of the partition's last live entry; 0 when it has none. */
  public long lastOffset(int partition) {
    Index index = indexes.get(partition);
    return index == null ? 0 : index.lastOffset;
  }

  /**
   * The first offset the log still holds for {@code partition}; {@code lastOffset + 1} when it
   * holds none (nothing to read, everything before must come from a snapshot).
   */
  public long firstOffset(int partition) {
    Index index = indexes.get(partition);
    return index == null ? 1 : index.firstOffset();
  }

  /** Sparse index points held for {@code partition}, for memory accounting and tests. */
  public int indexPoints(int partition) {
    Index index = indexes.get(partition);
    return index == null ? 0 : index.points;
  }

  /**
   * The partition's live entries from {@code fromOffset} on, at most {@code maxEntries} and about
   * {@code maxBytes} of bodies (always one, if there is one). Empty when {@code fromOffset} is past
   * the end.
   *
   * @throws PartitionLogGoneException when retention removed {@code fromOffset}
   */
  public List<PartitionEntry> read(int partition, long fromOffset, int maxEntries, long maxBytes)
      throws IOException {
    Check.argument(fromOffset >= 1, "read from %s", fromOffset);
    Check.argument(maxEntries >= 1, "maxEntries %s", maxEntries);
    Index index = indexes.get(partition);
    if (index == null || fromOffset > index.lastOffset) {
      return List.of();
    }
    if (fromOffset < index.firstOffset()) {
      throw new PartitionLogGoneException(partition, fromOffset, index.firstOffset());
    }
    long start = index.floorSequence(fromOffset);
    List<PartitionEntry> batch = new ArrayList<>();
    long[] bytes = {0};
    try {
      log.replay(
          start - 1,
          (sequence, tag, payload) -> {
            if (tag != partition || !PartitionRecordFormat.isPartitionRecord(payload)) {
              return;
            }
            PartitionRecordFormat.Decoded record = PartitionRecordFormat.decode(payload);
            if (!record.isEntry()
                || record.offset() < fromOffset
                || index.isStale(sequence, record.offset())) {
              return;
            }
            if (!batch.isEmpty() && bytes[0] + record.body().length > maxBytes) {
              throw StopScan.INSTANCE;
            }
            Check.state(
                record.offset() == fromOffset + batch.size(),
                "partition %s: live entry %s where %s was expected",
                partition,
                record.offset(),
                fromOffset + batch.size());
            batch.add(new PartitionEntry(record.epoch(), record.offset(), sequence, record.body()));
            bytes[0] += record.body().length;
            if (batch.size() >= maxEntries || record.offset() >= index.lastOffset) {
              throw StopScan.INSTANCE;
            }
          });
    } catch (StopScan done) {
      // the batch is full or reached the partition's end
    }
    return batch;
  }

  /**
   * Call after {@link SegmentedLog#deleteSegmentsBefore}: drops index points and truncations of
   * deleted records and finds each partition's first live entry still held (one scan from the new
   * log start, ending as soon as every partition with entries left has been seen).
   */
  public void afterSegmentsDeleted() throws IOException {
    long first = log.firstSequence();
    Map<Integer, Index> unresolved = new HashMap<>();
    for (Map.Entry<Integer, Index> entry : indexes.entrySet()) {
      Index index = entry.getValue();
      index.dropBefore(first);
      if (index.lastOffset > 0 && index.lastSequence >= first) {
        unresolved.put(entry.getKey(), index);
      } else {
        index.markNothingHeld();
      }
    }
    if (unresolved.isEmpty()) {
      return;
    }
    try {
      log.replay(
          first - 1,
          (sequence, tag, payload) -> {
            Index index = unresolved.get(tag);
            if (index == null || !PartitionRecordFormat.isPartitionRecord(payload)) {
              return;
            }
            PartitionRecordFormat.Decoded record = PartitionRecordFormat.decode(payload);
            if (record.isEntry() && !index.isStale(sequence, record.offset())) {
              index.setFirstHeld(record.offset(), sequence);
              unresolved.remove(tag);
              if (unresolved.isEmpty()) {
                throw StopScan.INSTANCE;
              }
            }
          });
    } catch (StopScan done) {
      // every partition found its first held entry
    }
    for (Index index : unresolved.values()) {
      index.markNothingHeld();
    }
  }

  private void observe(
      long sequence, int partition, PartitionRecordFormat.Decoded record, boolean recovering) {
    Index index = indexes.computeIfAbsent(partition, p -> new Index());
    if (record.isTruncate()) {
      index.truncate(sequence, record.offset());
    } else if (record.isStartAfter()) {
      index.startAfter(sequence, new Lsn(record.epoch(), record.offset()));
    } else {
      if (recovering) {
        index.checkAppend(record.epoch(), record.offset());
      }
      index.append(sequence, record.epoch(), record.offset());
    }
  }

  /** Ends a scan early; carries no stack trace. */
  private static final class StopScan extends IOException {
    private static final long serialVersionUID = 1L;
    static final StopScan INSTANCE = new StopScan();

    private StopScan() {
      super("scan stopped");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** One partition's in-memory index. */
  private static final class Index {
    long[] pointOffsets = new long[4];
    long[] pointSequences = new long[4];
    int points;
    long lastOffset;
    long lastEpoch;
    long lastSequence;

    /** True once any entry or truncation was seen; an untouched partition may start anywhere. */
    boolean started;

    /** Set when retention removed every entry: nothing is held below lastOffset + 1. */
    boolean nothingHeld;

    /** (sequence, afterOffset) of truncations still on disk, in sequence order. */
    final List<long[]> truncations = new ArrayList<>();

    /** The last restart after a snapshot, {@link Lsn#ZERO} when none is on disk. */
    Lsn base = Lsn.ZERO;

    long baseSequence;

    void startAfter(long sequence, Lsn lsn) {
      if (lastOffset > 0 || !truncations.isEmpty()) {
        // Voids every earlier entry, the way a cut after offset 0 would.
        Check.state(
            truncations.size() < TRUNCATIONS_KEPT_MAX,
            "%s truncations on disk for one partition",
            TRUNCATIONS_KEPT_MAX);
        truncations.add(new long[] {sequence, 0});
      }
      started = true;
      points = 0;
      nothingHeld = true;
      lastOffset = lsn.offset();
      lastEpoch = lsn.epoch();
      lastSequence = sequence;
      base = lsn;
      baseSequence = sequence;
    }

    void checkAppend(long epoch, long offset) {
      if (started) {
        Check.argument(
            offset == lastOffset + 1, "append at %s, partition ends at %s", offset, lastOffset);
        Check.argument(epoch >= lastEpoch, "append epoch %s below last %s", epoch, lastEpoch);
      }
    }

    void append(long sequence, long epoch, long offset) {
      if (points == 0
          || nothingHeld
          || offset - pointOffsets[points - 1] >= INDEX_INTERVAL_ENTRIES) {
        if (nothingHeld) {
          points = 0;
          nothingHeld = false;
        }
        addPoint(offset, sequence);
      }
      started = true;
      lastOffset = offset;
      lastEpoch = epoch;
      lastSequence = sequence;
    }

    void truncate(long sequence, long afterOffset) {
      started = true;
      if (afterOffset >= lastOffset) {
        return; // cuts nothing
      }
      Check.state(
          truncations.size() < TRUNCATIONS_KEPT_MAX,
          "%s truncations on disk for one partition",
          TRUNCATIONS_KEPT_MAX);
      truncations.add(new long[] {sequence, afterOffset});
      while (points > 0 && pointOffsets[points - 1] > afterOffset) {
        points--;
      }
      lastOffset = afterOffset;
      // The epoch at the cut is not indexed; the next leader's entries carry a newer one anyway.
      lastEpoch = 0;
      if (points == 0) {
        nothingHeld = true;
      }
    }

    boolean isStale(long sequence, long offset) {
      for (int i = truncations.size() - 1; i >= 0 && truncations.get(i)[0] > sequence; i--) {
        if (truncations.get(i)[1] < offset) {
          return true;
        }
      }
      return false;
    }

    long firstOffset() {
      return nothingHeld || points == 0 ? lastOffset + 1 : pointOffsets[0];
    }

    long floorSequence(long offset) {
      int low = 0;
      int high = points - 1;
      while (low < high) {
        int middle = (low + high + 1) >>> 1;
        if (pointOffsets[middle] <= offset) {
          low = middle;
        } else {
          high = middle - 1;
        }
      }
      Check.state(pointOffsets[low] <= offset, "no index point at or below %s", offset);
      return pointSequences[low];
    }

    void dropBefore(long firstSequence) {
      int drop = 0;
      while (drop < points && pointSequences[drop] < firstSequence) {
        drop++;
      }
      System.arraycopy(pointOffsets, drop, pointOffsets, 0, points - drop);
      System.arraycopy(pointSequences, drop, pointSequences, 0, points - drop);
      points -= drop;
      truncations.removeIf(t -> t[0] < firstSequence);
      if (baseSequence < firstSequence) {
        base = Lsn.ZERO;
      }
    }

    void setFirstHeld(long offset, long sequence) {
      if (points > 0 && pointOffsets[0] == offset) {
        return;
      }
      Check.state(
          points == 0 || pointOffsets[0] > offset,
          "first held offset %s above index point %s",
          offset,
          points == 0 ? 0 : pointOffsets[0]);
      ensureCapacity();
      System.arraycopy(pointOffsets, 0, pointOffsets, 1, points);
      System.arraycopy(pointSequences, 0, pointSequences, 1, points);
      pointOffsets[0] = offset;
      pointSequences[0] = sequence;
      points++;
      nothingHeld = false;
    }

    void markNothingHeld() {
      points = 0;
      nothingHeld = true;
    }

    private void addPoint(long offset, long sequence) {
      ensureCapacity();
      pointOffsets[points] = offset;
      pointSequences[points] = sequence;
      points++;
    }

    private void ensureCapacity() {
      if (points == pointOffsets.length) {
        pointOffsets = Arrays.copyOf(pointOffsets, points * 2);
        pointSequences = Arrays.copyOf(pointSequences, points * 2);
      }
    }
  }
}
