package io.replicakv.storage.log;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Configuration of a {@link SegmentedLog}.
 *
 * @param directory where the segment files live; created if missing
 * @param segmentSizeBytes a segment is rolled before a record would take it past this size (a
 *     single record larger than this gets a segment of its own)
 * @param fsync the durability policy
 * @param fsyncIntervalMillis the fsync period under {@link FsyncPolicy#INTERVAL}; ignored otherwise
 * @param maxBufferedBytes appended bytes the writer has not yet written; past this {@code append}
 *     blocks until the writer catches up
 */
public record LogOptions(
    Path directory,
    long segmentSizeBytes,
    FsyncPolicy fsync,
    long fsyncIntervalMillis,
    long maxBufferedBytes) {

  /** Default segment size: 64 MiB, as a compromise between file count and deletion granularity. */
  public static final long DEFAULT_SEGMENT_SIZE_BYTES = 64L << 20;

  /** Default fsync period, the analogue of Redis {@code appendfsync everysec}. */
  public static final long DEFAULT_FSYNC_INTERVAL_MILLIS = 1000;

  /** Default bound on bytes waiting for the writer thread. */
  public static final long DEFAULT_MAX_BUFFERED_BYTES = 64L << 20;

  /** Smallest accepted segment size; below this the header would dominate. */
  public static final long SEGMENT_SIZE_MIN_BYTES = 1024;

  public LogOptions {
    Objects.requireNonNull(directory, "directory");
    Objects.requireNonNull(fsync, "fsync");
    if (segmentSizeBytes < SEGMENT_SIZE_MIN_BYTES) {
      throw new IllegalArgumentException(
          "segmentSizeBytes " + segmentSizeBytes + " below " + SEGMENT_SIZE_MIN_BYTES);
    }
    if (fsyncIntervalMillis <= 0) {
      throw new IllegalArgumentException("fsyncIntervalMillis must be positive");
    }
    if (maxBufferedBytes <= 0) {
      throw new IllegalArgumentException("maxBufferedBytes must be positive");
    }
  }

  /** 64 MiB segments, {@link FsyncPolicy#INTERVAL} every 1000 ms, 64 MiB write buffer. */
  public static LogOptions defaults(Path directory) {
    return new LogOptions(
        directory,
        DEFAULT_SEGMENT_SIZE_BYTES,
        FsyncPolicy.INTERVAL,
        DEFAULT_FSYNC_INTERVAL_MILLIS,
        DEFAULT_MAX_BUFFERED_BYTES);
  }

  /** A copy with another fsync policy. */
  public LogOptions withFsync(FsyncPolicy policy) {
    return new LogOptions(
        directory, segmentSizeBytes, policy, fsyncIntervalMillis, maxBufferedBytes);
  }

  /** A copy with another segment size. */
  public LogOptions withSegmentSizeBytes(long bytes) {
    return new LogOptions(directory, bytes, fsync, fsyncIntervalMillis, maxBufferedBytes);
  }

  /** A copy with another write-buffer bound. */
  public LogOptions withMaxBufferedBytes(long bytes) {
    return new LogOptions(directory, segmentSizeBytes, fsync, fsyncIntervalMillis, bytes);
  }

  /** A copy with another fsync interval. */
  public LogOptions withFsyncIntervalMillis(long millis) {
    return new LogOptions(directory, segmentSizeBytes, fsync, millis, maxBufferedBytes);
  }
}
