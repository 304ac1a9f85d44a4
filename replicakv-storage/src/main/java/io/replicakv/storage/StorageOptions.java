package io.replicakv.storage;

import io.replicakv.storage.log.FsyncPolicy;
import java.nio.file.Path;

/**
 * Settings of one node's storage.
 *
 * @param dataDirectory holds {@code log/} and {@code snapshots/}
 * @param keyspaceCount number of keyspaces (Redis logical databases)
 * @param fsync when the log is forced to disk
 * @param fsyncIntervalMillis period of the fsync under {@link FsyncPolicy#INTERVAL}
 * @param segmentSizeBytes log segment size before a new segment starts
 * @param maxBufferedLogBytes appended bytes waiting for the writer before appends block
 * @param snapshotIntervalMillis a snapshot is due this long after the previous one (0 = never by
 *     time)
 * @param snapshotMinChanges ... and only when at least this many changes happened since
 * @param snapshotLogBytes a snapshot is also due when the log grows past this size (0 = off)
 * @param snapshotKeysPerStep keys a snapshot encodes per node-loop timer step
 * @param snapshotQueueBytes encoded snapshot bytes waiting for the snapshot writer before the walk
 *     pauses
 */
public record StorageOptions(
    Path dataDirectory,
    int keyspaceCount,
    FsyncPolicy fsync,
    long fsyncIntervalMillis,
    long segmentSizeBytes,
    long maxBufferedLogBytes,
    long snapshotIntervalMillis,
    long snapshotMinChanges,
    long snapshotLogBytes,
    int snapshotKeysPerStep,
    long snapshotQueueBytes) {

  public static StorageOptions defaults(Path dataDirectory) {
    return new StorageOptions(
        dataDirectory,
        16,
        FsyncPolicy.INTERVAL,
        1_000,
        64L << 20,
        64L << 20,
        300_000,
        1,
        256L << 20,
        2_000,
        16L << 20);
  }
}
