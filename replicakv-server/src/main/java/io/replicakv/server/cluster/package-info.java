/**
 * Cluster metadata: members, the ring, keyspaces and partition assignments as a totally ordered log
 * of {@link io.replicakv.server.cluster.MetadataChange}s folded into immutable {@link
 * io.replicakv.server.cluster.ClusterView}s. {@link io.replicakv.server.cluster.MetadataStore} is
 * the seam: {@link io.replicakv.server.cluster.RatisMetadataStore} runs it on a Raft group of
 * voters, {@link io.replicakv.server.cluster.InMemoryMetadataStore} stands in for tests and the
 * simulator.
 */
package io.replicakv.server.cluster;
