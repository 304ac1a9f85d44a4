package io.replicakv.sim;

import java.util.Optional;

/**
 * Checked as the run goes: each running leaderless node's incrementally maintained state (Merkle
 * trees, hint bounds) still equals what a rebuild from its data gives. A bug in an incremental
 * update would otherwise only show as anti-entropy that never finishes. A wrong tree stays wrong,
 * so checking every {@link #TREE_CHECK_EVERY_EVENTS} events catches it a few events late at an
 * eighth of the cost; the dearer check that cached digests match their states (it serialises every
 * state) runs every {@link #DIGEST_CHECK_EVERY_EVENTS} events.
 */
final class LeaderlessInvariant implements Invariant {
  /** Events between two tree checks. */
  static final long TREE_CHECK_EVERY_EVENTS = 8;

  /** Events between two full digest checks. */
  static final long DIGEST_CHECK_EVERY_EVENTS = 256;

  private final int nodeCount;

  LeaderlessInvariant(int nodeCount) {
    this.nodeCount = nodeCount;
  }

  @Override
  public Optional<String> check(View view) {
    if (view.eventIndex() % TREE_CHECK_EVERY_EVENTS != 0) {
      return Optional.empty();
    }
    for (int node = 0; node < nodeCount; node++) {
      Optional<String> problem =
          view.replica(node)
              .filter(LeaderlessSimReplica.class::isInstance)
              .map(LeaderlessSimReplica.class::cast)
              .flatMap(
                  replica ->
                      replica
                          .node()
                          .verifyInvariants()
                          .or(
                              () ->
                                  view.eventIndex() % DIGEST_CHECK_EVERY_EVENTS == 0
                                      ? replica.node().verifyDigests()
                                      : Optional.empty()));
      if (problem.isPresent()) {
        return problem;
      }
    }
    return Optional.empty();
  }
}
