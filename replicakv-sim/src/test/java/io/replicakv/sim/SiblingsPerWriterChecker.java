package io.replicakv.sim;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Siblings stay bounded by truly concurrent writers, measured per writer: a read may show at most
 * one value per client, plus one more for each of that client's writes to the key whose outcome is
 * unknown (a timed-out write may land after the client's next write and so is concurrent with it;
 * an acknowledged write is always covered by the client's next write's context).
 *
 * <p>This is the promise of dotted version vectors with client contexts. It fails for blind writes
 * (every write a sibling of the last) and for a store that creates two versions of one write
 * (duplicated messages applied twice), which {@link SiblingsChecker}'s flat bound may miss.
 */
final class SiblingsPerWriterChecker implements Checker {
  @Override
  public CheckResult check(Observation observation) {
    Writes writes = new Writes(observation.ops());
    List<String> problems = new ArrayList<>();
    for (Op read : observation.ops()) {
      if (read.kind() != Op.Kind.READ || read.status() != Op.Status.OK || read.read().size() < 2) {
        continue;
      }
      Map<Long, Integer> siblingsByClient = new HashMap<>();
      for (String value : read.read()) {
        Op writer = writes.writerOf(read.key(), value);
        if (writer != null) {
          siblingsByClient.merge(writer.clientId(), 1, Integer::sum);
        }
      }
      siblingsByClient.forEach(
          (client, siblings) -> {
            long uncertain =
                observation.ops().stream()
                    .filter(
                        op ->
                            op.clientId() == client
                                && op.kind() == Op.Kind.WRITE
                                && op.key().equals(read.key())
                                && op.status() == Op.Status.INFO
                                && op.invokeAt() < read.completeAt())
                    .count();
            if (siblings > 1 + uncertain) {
              problems.add(
                  siblings
                      + " siblings from client "
                      + client
                      + " (with "
                      + uncertain
                      + " uncertain writes): "
                      + read.describe());
            }
          });
    }
    return CheckResult.of("siblings bounded by concurrent writers", problems);
  }
}
