package io.replicakv.sim;

/**
 * Implemented by simulated replicas that tell clients where to send requests, standing in for the
 * redirects (MOVED) and metadata lookups a real client follows. Routing by belief, not by truth: a
 * deposed leader that still believes it leads gets requests, as it would in a real cluster.
 */
public interface RoutingHint {
  /** True when this replica would accept a write now. */
  boolean believesLeader();

  /** False for nodes that hold no data (a controller); clients never read from them. */
  boolean holdsData();
}
