package io.replicakv.storage;

import io.replicakv.core.msg.Lsn;
import io.replicakv.storage.data.Bytes;
import io.replicakv.storage.data.MemoryState;
import io.replicakv.storage.data.Mutation;
import io.replicakv.storage.data.MutationCodec;
import io.replicakv.storage.data.Value;
import io.replicakv.storage.log.LogMetrics;
import io.replicakv.storage.log.LogOptions;
import io.replicakv.storage.log.RecoveryReport;
import io.replicakv.storage.log.SegmentedLog;
import io.replicakv.storage.partition.PartitionLogs;
import io.replicakv.storage.partition.PartitionRecordFormat;
import io.replicakv.storage.partition.PartitionSnapshot;
import io.replicakv.storage.snapshot.SnapshotFiles;
import io.replicakv.storage.snapshot.SnapshotInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The storage engine of one node: live data in memory, every change written ahead to the log,
 * periodic snapshots that let the log be trimmed.
 *
 * <p>Model (the Redis AOF + RDB pairing, with one log for the whole node): a change arrives as a
 * logical {@link Mutation} (the new value, never the command), is appended to the {@link
 * SegmentedLog} and applied to {@link MemoryState} in the same call, so the log order is the apply
 * order. A restart loads the newest valid snapshot and replays the log records after the sequence
 * that snapshot is tagged with; because records are logical, replay needs no clock and gives the
 * same state.
 *
 * <p>Snapshots are point-in-time without stopping writes: {@link SnapshotTask} walks the keyspaces
 * with the dictionary's SCAN cursor a few keys per step on the node loop and hands encoded entries
 * to a background writer. A key about to change that the walk has not reached yet is copied first
 * (copy-before-write), and keys created after the start are marked as seen, so the file holds
 * exactly the state at the tagged sequence.
 *
 * <p>Threading: every method is called from one thread, the node loop. The log's writer thread and
 * the snapshot writer thread are internal.
 */
public final class StorageEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StorageEngine.class);

  /** Partition tag used for node-local data until partitions exist. */
  public static final int LOCAL_PARTITION = 0;

  private final StorageOptions options;
  private final MemoryState state;
  private final SegmentedLog wal;
  private final Path snapshotDirectory;
  private SnapshotTask snapshot;
  private PartitionLogs partitionLogs;
  private final List<PartitionSnapshot> partitionSnapshots = new ArrayList<>();
  private SnapshotInfo lastSnapshot;
  private long lastSnapshotMillis;
  private long changesSinceSnapshot;
  private String lastSnapshotError;
  private long snapshotsTaken;

  private StorageEngine(
      StorageOptions options, MemoryState state, SegmentedLog wal, SnapshotInfo lastSnapshot) {
    this.options = options;
    this.state = state;
    this.wal = wal;
    this.snapshotDirectory = options.dataDirectory().resolve("snapshots");
    this.lastSnapshot = lastSnapshot;
  }

  /**
   * Opens the data directory: newest valid snapshot, then the log after it. Creates the directory
   * when it does not exist.
   */
  public static StorageEngine open(StorageOptions options, long nowMillis) throws IOException {
    Path dataDirectory = options.dataDirectory();
    Files.createDirectories(dataDirectory);
    Path snapshots = dataDirectory.resolve("snapshots");
    Files.createDirectories(snapshots);
    MemoryState state = new MemoryState(options.keyspaceCount());
    Optional<SnapshotInfo> newest = SnapshotFiles.newestValid(snapshots);
    long afterSequence = 0;
    if (newest.isPresent()) {
      SnapshotInfo info = SnapshotFiles.read(newest.get().path(), state::loadEntry);
      afterSequence = info.lastIncludedSequence();
      log.info(
          "loaded snapshot {} with {} keys at log sequence {}",
          info.path().getFileName(),
          info.entryCount(),
          afterSequence);
    }
    LogOptions logOptions =
        new LogOptions(
            dataDirectory.resolve("log"),
            options.segmentSizeBytes(),
            options.fsync(),
            options.fsyncIntervalMillis(),
            options.maxBufferedLogBytes());
    SegmentedLog wal = SegmentedLog.open(logOptions);
    RecoveryReport report = wal.recovery();
    long[] replayed = {0};
    wal.replay(
        afterSequence,
        (sequence, partition, payload) -> {
          // Single-leader partition entries are applied when they commit, through apply();
          // their own records are the replication log, read by PartitionLogs.
          if (!PartitionRecordFormat.isPartitionRecord(payload)) {
            state.apply(MutationCodec.decode(payload));
            replayed[0]++;
          }
        });
    log.info(
        "recovered {} log records after sequence {} (log holds {}..{}, {} segments{})",
        replayed[0],
        afterSequence,
        report.firstSequence(),
        report.lastSequence(),
        report.segmentCount(),
        report.truncationReason() == null
            ? ""
            : ", cut " + report.truncatedBytes() + " bytes: " + report.truncationReason());
    if (wal.lastSequence() < afterSequence) {
      // The snapshot start syncs the log, so this only happens when log files were removed by
      // hand; appending would reuse sequences the snapshot already covers.
      wal.close();
      throw new IOException(
          "log in "
              + logOptions.directory()
              + " ends at sequence "
              + wal.lastSequence()
              + " but the snapshot covers up to "
              + afterSequence
              + "; refusing to start");
    }
    StorageEngine engine = new StorageEngine(options, state, wal, newest.orElse(null));
    engine.lastSnapshotMillis = nowMillis;
    engine.changesSinceSnapshot = replayed[0];
    return engine;
  }

  /**
   * The single-leader partition logs in this engine's log, indexed by one scan on the first call.
   * Their records share the log's segments, so a node snapshot's retention also bounds them.
   */
  public PartitionLogs partitionLogs() throws IOException {
    if (partitionLogs == null) {
      partitionLogs = PartitionLogs.open(wal);
    }
    return partitionLogs;
  }

  /**
   * Starts a point-in-time copy of the keys of {@code slots} in {@code keyspace} as the state is
   * now, which the caller tags with the partition's LSN applied at this moment. Writes continue;
   * the copy is pulled in chunks and must be {@link PartitionSnapshot#close closed}.
   */
  public PartitionSnapshot startPartitionSnapshot(int keyspace, BitSet slots, Lsn lsn) {
    PartitionSnapshot started =
        new PartitionSnapshot(state, keyspace, slots, lsn, partitionSnapshots::remove);
    partitionSnapshots.add(started);
    return started;
  }

  /** Partition snapshots started and not yet closed. */
  public int partitionSnapshotsOpen() {
    return partitionSnapshots.size();
  }

  /** The live data; read it freely, change it only through {@link #apply}. */
  public MemoryState state() {
    return state;
  }

  /**
   * Writes a change ahead to the log and applies it. Returns its log sequence.
   *
   * @throws io.replicakv.storage.log.LogWriteException while the disk refuses writes
   */
  public long apply(Mutation mutation) {
    byte[] payload = MutationCodec.encode(mutation);
    long sequence = wal.append(LOCAL_PARTITION, payload);
    if (snapshot != null) {
      snapshot.beforeChange(mutation);
    }
    for (PartitionSnapshot partitionSnapshot : partitionSnapshots) {
      partitionSnapshot.beforeChange(mutation);
    }
    state.apply(mutation);
    changesSinceSnapshot++;
    return sequence;
  }

  /**
   * The change feed: every log record after {@code afterSequence}, in order, decoded. This is the
   * interface replication, new-follower catch-up and change-data-capture read the log through.
   * Records written but not yet handed to the writer are flushed first.
   */
  public void readChanges(long afterSequence, ChangeConsumer consumer) throws IOException {
    wal.flush();
    wal.replay(
        afterSequence,
        (sequence, partition, payload) -> {
          if (!PartitionRecordFormat.isPartitionRecord(payload)) {
            consumer.accept(sequence, partition, MutationCodec.decode(payload));
          }
        });
  }

  /** Receives one change of the feed. */
  @FunctionalInterface
  public interface ChangeConsumer {
    void accept(long sequence, int partition, Mutation mutation) throws IOException;
  }

  /** Hands the changes of this event-loop batch to the log writer. */
  public void flush() {
    wal.flush();
  }

  public long lastSequence() {
    return wal.lastSequence();
  }

  public long durableSequence() {
    return wal.durableSequence();
  }

  public void addDurabilityListener(LongConsumer listener) {
    wal.addDurabilityListener(listener);
  }

  /** The disk error that currently stops writes, or null. */
  public IOException failure() {
    return wal.failure();
  }

  public LogMetrics logMetrics() {
    return wal.metrics();
  }

  /**
   * Called by the node loop on a timer: starts a snapshot when the policy asks for one and advances
   * a running one by a bounded amount of work.
   */
  public void onTimer(long nowMillis) {
    if (snapshot == null) {
      boolean due =
          options.snapshotIntervalMillis() > 0
              && nowMillis - lastSnapshotMillis >= options.snapshotIntervalMillis()
              && changesSinceSnapshot >= options.snapshotMinChanges();
      boolean logLarge =
          options.snapshotLogBytes() > 0 && wal.metrics().sizeBytes() >= options.snapshotLogBytes();
      if ((due || logLarge) && changesSinceSnapshot > 0) {
        startSnapshot(nowMillis);
      }
      return;
    }
    advanceSnapshot(nowMillis);
  }

  /** Starts a snapshot now unless one is running; returns false when one was already running. */
  public boolean startSnapshot(long nowMillis) {
    if (snapshot != null) {
      return false;
    }
    try {
      // Everything the snapshot covers must be durable in the log before the snapshot file can
      // exist, or a crash could leave a snapshot ahead of its log.
      wal.sync();
      snapshot = new SnapshotTask(state, snapshotDirectory, wal.lastSequence(), nowMillis, options);
      changesSinceSnapshot = 0;
      lastSnapshotMillis = nowMillis;
      log.info("snapshot started at log sequence {}", snapshot.lastIncludedSequence());
      return true;
    } catch (IOException e) {
      lastSnapshotError = e.toString();
      lastSnapshotMillis = nowMillis;
      log.warn("snapshot could not start: {}", e.toString());
      return false;
    }
  }

  private void advanceSnapshot(long nowMillis) {
    SnapshotTask task = snapshot;
    try {
      if (!task.step(options.snapshotKeysPerStep())) {
        return;
      }
      SnapshotInfo info = task.awaitFinished();
      snapshot = null;
      lastSnapshot = info;
      lastSnapshotError = null;
      snapshotsTaken++;
      SnapshotFiles.deleteAllExcept(snapshotDirectory, info.path());
      wal.deleteSegmentsBefore(info.lastIncludedSequence() + 1);
      if (partitionLogs != null) {
        partitionLogs.afterSegmentsDeleted();
      }
      log.info(
          "snapshot {} written: {} keys, {} bytes, log sequence {}",
          info.path().getFileName(),
          info.entryCount(),
          info.sizeBytes(),
          info.lastIncludedSequence());
    } catch (IOException | RuntimeException e) {
      snapshot = null;
      task.abort();
      lastSnapshotError = e.toString();
      log.warn("snapshot failed: {}", e.toString());
    }
  }

  /** Runs a snapshot to completion on the calling thread (shutdown, tests, admin SAVE). */
  public SnapshotInfo snapshotNow(long nowMillis) throws IOException {
    if (snapshot == null && !startSnapshot(nowMillis)) {
      throw new IOException("snapshot could not start: " + lastSnapshotError);
    }
    while (snapshot != null) {
      advanceSnapshot(nowMillis);
      Thread.onSpinWait();
    }
    if (lastSnapshotError != null) {
      throw new IOException(lastSnapshotError);
    }
    return lastSnapshot;
  }

  public boolean snapshotInProgress() {
    return snapshot != null;
  }

  public SnapshotInfo lastSnapshot() {
    return lastSnapshot;
  }

  public String lastSnapshotError() {
    return lastSnapshotError;
  }

  public long snapshotsTaken() {
    return snapshotsTaken;
  }

  public long changesSinceSnapshot() {
    return changesSinceSnapshot;
  }

  /** Convenience for callers that only need the value of a key, raw (no expiry check). */
  public Value get(int keyspace, Bytes key) {
    return state.get(keyspace, key);
  }

  /** Writes and fsyncs everything appended so far. */
  public void sync() throws IOException {
    wal.sync();
  }

  @Override
  public void close() throws IOException {
    if (snapshot != null) {
      snapshot.abort();
      snapshot = null;
    }
    wal.close();
  }
}
