package io.replicakv.storage.snapshot;

import java.nio.file.Path;

/**
 * A finished snapshot: a file of opaque entries tagged with the log sequence it contains (every
 * record up to and including {@code lastIncludedSequence}).
 *
 * @param path the snapshot file
 * @param lastIncludedSequence the last log sequence whose effect the entries include
 * @param entryCount entries in the file
 * @param sizeBytes the file's size
 * @param createdMillis the creation time given by the writer's caller
 */
public record SnapshotInfo(
    Path path, long lastIncludedSequence, long entryCount, long sizeBytes, long createdMillis) {}
