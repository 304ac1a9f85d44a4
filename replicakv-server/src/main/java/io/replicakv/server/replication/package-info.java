/**
 * Single-leader replication between server nodes: the peer frames that carry {@code
 * SingleLeaderMessage}s of many partitions at once ({@link
 * io.replicakv.server.replication.ReplicationFrameCodec}) and the map from the cluster view to the
 * partitions a node replicates ({@link io.replicakv.server.replication.PartitionMap}). The node
 * loop that drives {@code PartitionReplica}s over these is planned in docs/design.md
 * ("Single-leader in the server") and not wired yet.
 */
package io.replicakv.server.replication;
