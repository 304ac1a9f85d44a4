package io.replicakv.sim;

import io.replicakv.core.leaderless.Placement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * No deleted value comes back: once a delete is acknowledged, no value it covered (the values the
 * deleting client had seen for the key) shows again, neither in a read invoked after the delete
 * finished (checked when {@code checkReads}: strict quorums make such a read meet the tombstone)
 * nor in any owner's final state after heal and anti-entropy.
 */
final class DeletedValuesChecker implements Checker {
  private final BiFunction<Long, Long, Boolean> isDelete;
  private final BiFunction<Long, Long, Set<String>> covered;
  private final boolean checkReads;
  private final Placement placement;

  /**
   * @param isDelete whether (client, request) was a delete
   * @param covered the values (client, request)'s delete covered
   */
  DeletedValuesChecker(
      BiFunction<Long, Long, Boolean> isDelete,
      BiFunction<Long, Long, Set<String>> covered,
      boolean checkReads,
      Placement placement) {
    this.isDelete = isDelete;
    this.covered = covered;
    this.checkReads = checkReads;
    this.placement = placement;
  }

  @Override
  public CheckResult check(Observation observation) {
    List<String> problems = new ArrayList<>();
    long deletes = 0;
    for (Op delete : observation.ops()) {
      if (delete.kind() != Op.Kind.WRITE
          || delete.status() != Op.Status.OK
          || !isDelete.apply(delete.clientId(), delete.requestId())) {
        continue;
      }
      deletes++;
      Set<String> gone = covered.apply(delete.clientId(), delete.requestId());
      if (gone.isEmpty()) {
        continue;
      }
      if (checkReads) {
        for (Op read : observation.ops()) {
          if (read.kind() == Op.Kind.READ
              && read.status() == Op.Status.OK
              && read.key().equals(delete.key())
              && delete.precedes(read)) {
            for (String value : read.read()) {
              if (gone.contains(value)) {
                problems.add(
                    read.describe() + " shows " + value + " deleted by " + delete.describe());
              }
            }
          }
        }
      }
      for (int owner : placement.owners(placement.partitionOf(delete.key()))) {
        Map<String, List<String>> state = observation.finalStates().get(owner);
        if (state == null) {
          continue;
        }
        for (String value : state.getOrDefault(delete.key(), List.of())) {
          if (gone.contains(value)) {
            problems.add(
                "node " + owner + " finally shows " + value + " deleted by " + delete.describe());
          }
        }
      }
    }
    return CheckResult.of("deleted values stay deleted", problems);
  }
}
