/**
 * Partition snapshots for new and far-behind single-leader followers (peer frame type {@value
 * io.replicakv.server.replication.snapshot.SnapshotFrameCodec#FRAME_TYPE}): {@link
 * io.replicakv.server.replication.snapshot.SnapshotSender} streams a storage {@code
 * PartitionSnapshot} to one follower with a window of unacknowledged bytes, {@link
 * io.replicakv.server.replication.snapshot.SnapshotReceiver} replaces the partition's keys on the
 * follower through its storage engine and reports the snapshot's LSN, which the follower's replica
 * then installs ({@code PartitionReplica.installSnapshot}).
 */
package io.replicakv.server.replication.snapshot;
