package io.replicakv.sim;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads see every write acknowledged before they began: for each OK read {@code r} and each OK
 * write {@code a} of the same key that finished before {@code r} was invoked, {@code r} returned
 * {@code a}'s value or a value from a write that did not finish before {@code a} began (with
 * siblings, one such value is enough). This is what strict quorums with R + W > N promise in a
 * leaderless store (Dynamo's "sloppy" mode does not), and what is weaker than linearizability:
 * concurrent writes may show as siblings in any order.
 */
final class QuorumReadChecker implements Checker {
  @Override
  public CheckResult check(Observation observation) {
    Writes writes = new Writes(observation.ops());
    List<Op> acknowledged =
        observation.ops().stream()
            .filter(op -> op.kind() == Op.Kind.WRITE && op.status() == Op.Status.OK)
            .toList();
    List<String> problems = new ArrayList<>();
    for (Op read : observation.ops()) {
      if (read.kind() != Op.Kind.READ || read.status() != Op.Status.OK) {
        continue;
      }
      for (Op write : acknowledged) {
        if (write.key().equals(read.key())
            && write.precedes(read)
            && writes.staleAgainst(read.key(), read.read(), write)) {
          problems.add(read.describe() + " misses earlier acknowledged " + write.describe());
        }
      }
    }
    return CheckResult.of("reads see acknowledged writes", problems);
  }
}
