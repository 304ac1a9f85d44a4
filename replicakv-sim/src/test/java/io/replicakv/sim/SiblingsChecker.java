package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Siblings stay bounded: no read and no final state shows more than {@code siblingsMax} values for
 * one key. With dotted version vectors the bound is the number of truly concurrent writers (at most
 * the number of clients), whereas plain vector clocks let siblings pile up.
 */
public final class SiblingsChecker implements Checker {
  private final int siblingsMax;

  /** Flags any key showing more than {@code siblingsMax} values at once. */
  public SiblingsChecker(int siblingsMax) {
    Check.argument(siblingsMax >= 1, "siblingsMax %s", siblingsMax);
    this.siblingsMax = siblingsMax;
  }

  @Override
  public CheckResult check(Observation observation) {
    List<String> problems = new ArrayList<>();
    for (Op op : observation.ops()) {
      if (op.kind() == Op.Kind.READ
          && op.status() == Op.Status.OK
          && op.read().size() > siblingsMax) {
        problems.add(op.read().size() + " siblings over " + siblingsMax + ": " + op.describe());
      }
    }
    for (Map.Entry<Integer, Map<String, List<String>>> node :
        observation.finalStates().entrySet()) {
      node.getValue()
          .forEach(
              (key, values) -> {
                if (values.size() > siblingsMax) {
                  problems.add(
                      "node "
                          + node.getKey()
                          + " key "
                          + key
                          + " holds "
                          + values.size()
                          + " siblings over "
                          + siblingsMax);
                }
              });
    }
    return CheckResult.of("siblings bounded by " + siblingsMax, problems);
  }
}
