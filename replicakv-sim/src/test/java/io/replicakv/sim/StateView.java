package io.replicakv.sim;

import java.util.List;
import java.util.Map;

/**
 * Implemented by replicas the simulator can inspect after a run: the values a read at this node
 * would return now, per key (empty lists omitted; more than one value are siblings). The
 * convergence and lost-write checkers compare these across nodes.
 */
public interface StateView {
  /** Key to visible values, values sorted; keys with no value are absent. */
  Map<String, List<String>> visibleState();
}
