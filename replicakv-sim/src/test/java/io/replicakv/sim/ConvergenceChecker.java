package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Convergence after heal: once faults are repaired and the system has been quiet long enough, every
 * node shows the same value (or the same siblings) for every key. Run it on final states taken
 * after a quiet phase; during faults replicas may legitimately differ.
 */
public final class ConvergenceChecker implements Checker {
  @Override
  public CheckResult check(Observation observation) {
    Map<Integer, Map<String, List<String>>> states = observation.finalStates();
    if (states.size() < 2) {
      return new CheckResult(
          "convergence", CheckResult.Verdict.UNKNOWN, List.of("fewer than two final states"));
    }
    TreeSet<String> keys = new TreeSet<>();
    states.values().forEach(state -> keys.addAll(state.keySet()));
    List<String> problems = new ArrayList<>();
    for (String key : keys) {
      List<String> reference = null;
      StringBuilder views = new StringBuilder();
      boolean differ = false;
      for (Map.Entry<Integer, Map<String, List<String>>> node : states.entrySet()) {
        List<String> values =
            node.getValue().getOrDefault(key, List.of()).stream().sorted().toList();
        views.append(" n").append(node.getKey()).append('=').append(values);
        if (reference == null) {
          reference = values;
        } else if (!reference.equals(values)) {
          differ = true;
        }
      }
      if (differ) {
        problems.add("key " + key + " differs:" + views);
      }
    }
    return CheckResult.of("convergence", problems);
  }
}
