package io.replicakv.server.cluster;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The cluster metadata as a linearizable, totally ordered log of {@link MetadataChange}s folded
 * into {@link ClusterView}s. {@link RatisMetadataStore} runs it on a Raft group of voter nodes;
 * {@link InMemoryMetadataStore} stands in for it in tests and the simulator.
 *
 * <p>Contract: {@link #propose} either commits the change as exactly one new version and completes
 * with a view that includes it, or completes exceptionally with {@link MetadataRejectedException}
 * (the change does not fit; nothing committed) or {@link MetadataUnavailableException} (no quorum
 * in time; outcome unknown). {@link #current()} never blocks and keeps answering with the last
 * known view when the quorum is gone, so data traffic continues on the last known ring.
 */
public interface MetadataStore extends AutoCloseable {
  /** The newest view this node knows; never null, never blocks. */
  ClusterView current();

  /** Proposes {@code change}; completes with the view that includes it. */
  CompletableFuture<ClusterView> propose(MetadataChange change);

  /**
   * A view at least as new as the quorum's when this is called, asked of the quorum's leader and
   * folded into {@link #current()} (so its listeners hear the versions in between): for a node
   * whose own copy lags, such as a voter whose Raft follower is still catching up. Fails with
   * {@link MetadataUnavailableException} when no leader answers in time. A store without a quorum
   * (the in-memory stand-in) answers its current view.
   */
  default CompletableFuture<ClusterView> sync() {
    return CompletableFuture.completedFuture(current());
  }

  /**
   * Registers {@code listener}: it is called first with the view current at registration, then with
   * every later version in order, once each, on a thread of the store's. A listener must not block
   * for long; it delays the others.
   */
  void addListener(Consumer<ClusterView> listener);

  /**
   * Whether this node leads the metadata quorum right now, as far as it knows: {@link
   * Leadership#LEADER} or {@link Leadership#FOLLOWER}, or {@link Leadership#UNKNOWN} for a store
   * without leaders (the in-memory stand-in). The failure detector acts only on the leader, so that
   * one node's view of who answers decides, not several that disagree during a partial cut.
   */
  default Leadership leadership() {
    return Leadership.UNKNOWN;
  }

  /** See {@link #leadership()}. */
  enum Leadership {
    LEADER,
    FOLLOWER,
    UNKNOWN
  }

  /** Stops the store; proposals still pending fail with {@link MetadataUnavailableException}. */
  @Override
  void close();
}
