package io.replicakv.sim;

import java.util.List;
import java.util.function.LongSupplier;

/**
 * Tombstone collection happens, not only stays safe: after heal, anti-entropy and a quiet period
 * longer than the collector's confirmation rounds, no node holds a tombstone any more. Paired with
 * {@link DeletedValuesChecker}, which shows that what was collected did not come back.
 */
final class TombstonesCollectedChecker implements Checker {
  private final LongSupplier tombstonesHeldAtEnd;

  TombstonesCollectedChecker(LongSupplier tombstonesHeldAtEnd) {
    this.tombstonesHeldAtEnd = tombstonesHeldAtEnd;
  }

  @Override
  public CheckResult check(Observation observation) {
    long held = tombstonesHeldAtEnd.getAsLong();
    return CheckResult.of(
        "tombstones collected after heal",
        held == 0
            ? List.of()
            : List.of(held + " tombstones still held after heal and quiet: collection stalled"));
  }
}
