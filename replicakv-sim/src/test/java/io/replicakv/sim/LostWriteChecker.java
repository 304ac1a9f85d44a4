package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * No acknowledged write is lost: after the run heals and quiets, every node's value for a key is
 * the last acknowledged write to it or something at least as new. Precisely: for every acknowledged
 * write {@code a}, some value the node shows comes from {@code a} or from a write that did not
 * finish before {@code a} began. With siblings, one surviving sibling is enough. Values that no
 * client ever wrote are reported too (phantoms).
 */
public final class LostWriteChecker implements Checker {
  @Override
  public CheckResult check(Observation observation) {
    if (observation.finalStates().isEmpty()) {
      return new CheckResult(
          "no lost acknowledged writes", CheckResult.Verdict.UNKNOWN, List.of("no final states"));
    }
    Writes writes = new Writes(observation.ops());
    List<String> problems = new ArrayList<>();
    for (Map.Entry<Integer, Map<String, List<String>>> node :
        observation.finalStates().entrySet()) {
      Map<String, List<String>> state = node.getValue();
      for (Op op : observation.ops()) {
        if (op.kind() != Op.Kind.WRITE || op.status() != Op.Status.OK) {
          continue;
        }
        List<String> values = state.getOrDefault(op.key(), List.of());
        if (writes.staleAgainst(op.key(), values, op)) {
          problems.add(
              "node "
                  + node.getKey()
                  + " lost acknowledged "
                  + op.describe()
                  + "; it shows "
                  + values);
        }
      }
      state.forEach(
          (key, values) -> {
            for (String value : values) {
              if (writes.writerOf(key, value) == null) {
                problems.add(
                    "node "
                        + node.getKey()
                        + " shows "
                        + key
                        + "="
                        + value
                        + " which no client wrote");
              }
            }
          });
    }
    return CheckResult.of("no lost acknowledged writes", problems);
  }
}
