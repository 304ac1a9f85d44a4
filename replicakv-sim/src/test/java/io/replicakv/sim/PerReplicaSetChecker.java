package io.replicakv.sim;

import io.replicakv.core.leaderless.Placement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Runs a checker key by key over only the key's replicas. In a partitioned store a node that does
 * not own a key rightly shows nothing for it, so convergence and lost-write checks compare the
 * key's owners (its preference list) and ignore everyone else.
 */
final class PerReplicaSetChecker implements Checker {
  private final Checker inner;
  private final Placement placement;

  PerReplicaSetChecker(Checker inner, Placement placement) {
    this.inner = inner;
    this.placement = placement;
  }

  @Override
  public CheckResult check(Observation observation) {
    TreeSet<String> keys = new TreeSet<>();
    observation.ops().forEach(op -> keys.add(op.key()));
    observation.finalStates().values().forEach(state -> keys.addAll(state.keySet()));
    String name = inner.check(new Observation(List.of(), Map.of())).checker();
    List<String> problems = new ArrayList<>();
    for (String key : keys) {
      List<Integer> owners = placement.owners(placement.partitionOf(key));
      Map<Integer, Map<String, List<String>>> states = new TreeMap<>();
      for (int owner : owners) {
        Map<String, List<String>> state = observation.finalStates().get(owner);
        if (state == null) {
          continue;
        }
        List<String> values = state.get(key);
        states.put(owner, values == null ? Map.of() : Map.of(key, values));
      }
      List<Op> ops = observation.ops().stream().filter(op -> op.key().equals(key)).toList();
      CheckResult result = inner.check(new Observation(ops, states));
      if (result.verdict() == CheckResult.Verdict.UNKNOWN && !states.isEmpty()) {
        return new CheckResult(name, CheckResult.Verdict.UNKNOWN, result.problems());
      }
      result.problems().forEach(problem -> problems.add("key " + key + ": " + problem));
    }
    return CheckResult.of(name, problems);
  }
}
