package io.replicakv.storage.log;

/**
 * A point-in-time view of the log's counters, for {@code /metrics}.
 *
 * @param appendedRecords records appended since open
 * @param bytesWritten bytes handed to write(2) since open (records and segment headers)
 * @param fsyncCount fsyncs of segment files since open
 * @param fsyncTotalNanos time spent in those fsyncs
 * @param fsyncMaxNanos the slowest of them
 * @param sizeBytes bytes in all segment files, as far as the writer has written them
 * @param segmentCount segment files
 */
public record LogMetrics(
    long appendedRecords,
    long bytesWritten,
    long fsyncCount,
    long fsyncTotalNanos,
    long fsyncMaxNanos,
    long sizeBytes,
    int segmentCount) {}
