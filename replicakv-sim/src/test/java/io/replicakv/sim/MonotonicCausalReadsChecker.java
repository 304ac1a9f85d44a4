package io.replicakv.sim;

import java.util.List;
import java.util.function.Supplier;

/**
 * Monotonic reads in causal terms, for siblings keyspaces: every acknowledged read of a client
 * returns a causal context that descends the contexts of that client's earlier reads of the key, so
 * a client never sees a state older than one it saw (Terry et al. 1994; what Cassandra's blocking
 * read repair gives quorum reads). Unlike {@link SessionChecker}'s real-time version it also covers
 * values of writes still in flight, which is where background read repair falls short. The
 * comparison is made by the simulated client library as results arrive ({@link
 * LeaderlessSimReplica.RunState}); this checker reports what it recorded.
 */
final class MonotonicCausalReadsChecker implements Checker {
  private final Supplier<List<String>> violations;

  MonotonicCausalReadsChecker(Supplier<List<String>> violations) {
    this.violations = violations;
  }

  @Override
  public CheckResult check(Observation observation) {
    return CheckResult.of("monotonic causal reads", violations.get());
  }
}
