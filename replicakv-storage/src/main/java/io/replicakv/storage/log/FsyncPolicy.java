package io.replicakv.storage.log;

/**
 * When the log forces its bytes to stable storage, and therefore when a record counts as durable.
 * The trade-off is the one Redis offers with {@code appendfsync}: see {@link SegmentedLog}.
 */
public enum FsyncPolicy {
  /** Group commit: a record is durable once an fsync that covered it has returned. */
  ALWAYS,
  /**
   * Write promptly, fsync every {@link LogOptions#fsyncIntervalMillis()}; a record counts as
   * durable once it is in the OS page cache, so a machine crash may lose up to one interval.
   */
  INTERVAL,
  /**
   * Write promptly, fsync only on {@link SegmentedLog#sync()} and close; the OS decides the rest.
   */
  NEVER
}
