package io.replicakv.storage.log;

/**
 * What {@link SegmentedLog#open} found on disk.
 *
 * @param firstSequence the first record still in the log, or {@code lastSequence + 1} when the log
 *     holds no records
 * @param lastSequence the last valid record; the next append gets {@code lastSequence + 1}
 * @param recordCount valid records found
 * @param segmentCount segment files kept
 * @param truncatedBytes bytes cut from a torn or corrupt tail (including deleted later segments)
 * @param truncationReason why the tail was cut, with segment and offset; null when nothing was cut
 */
public record RecoveryReport(
    long firstSequence,
    long lastSequence,
    long recordCount,
    int segmentCount,
    long truncatedBytes,
    String truncationReason) {}
