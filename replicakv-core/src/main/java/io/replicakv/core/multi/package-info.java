/**
 * Multi-leader replication between sites (DESIGN.md, "Multi-leader"), as pure state machines.
 *
 * <p>{@link io.replicakv.core.multi.SiteReplica} is one site: it accepts writes, keeps a log of
 * every change it applied, streams that log to the downstream sites of the topology from their
 * acknowledged positions (messages in {@link io.replicakv.core.msg.SiteMessage}), forwards by the
 * path each change carries, and applies received changes in causal order through a bounded causal
 * buffer. What concurrent writes become is decided by one {@link
 * io.replicakv.core.multi.ConflictResolver} per keyspace: {@link
 * io.replicakv.core.multi.LwwResolver}, {@link io.replicakv.core.multi.SiblingsResolver}, {@link
 * io.replicakv.core.multi.MergeResolver} (functions from {@link
 * io.replicakv.core.multi.MergeFunctions}, user ones checked for the merge laws at registration),
 * {@link io.replicakv.core.multi.CrdtResolver}, {@link io.replicakv.core.multi.LockResolver} (with
 * the lock protocol in {@code SiteLocks}) and {@link io.replicakv.core.multi.HomeSiteResolver}.
 * Every resolution is counted in {@link io.replicakv.core.multi.ConflictMetrics}.
 */
package io.replicakv.core.multi;
