package io.replicakv.sim;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What checkers judge: the client history of a run and, when the run ended quiet and healed, each
 * node's visible state.
 *
 * @param ops every client op; see {@link Op} for the time model
 * @param finalStates node id to its {@link StateView#visibleState()} at the end; empty when the
 *     replicas cannot be inspected
 */
public record Observation(List<Op> ops, Map<Integer, Map<String, List<String>>> finalStates) {
  public Observation {
    ops = List.copyOf(ops);
    finalStates = new TreeMap<>(finalStates);
  }

  /** A history with no final states, for hand-made checker tests. */
  public static Observation of(List<Op> ops) {
    return new Observation(ops, Map.of());
  }
}
