package io.replicakv.core;

import io.replicakv.core.msg.Operation;
import io.replicakv.core.util.Check;

/**
 * An operation a replica has committed (it will never be undone) at a position of its log. The
 * caller applies it to the visible state or feeds change-data capture; the simulator checks that no
 * two replicas ever commit different operations at one position.
 *
 * @param epoch epoch of the leader that wrote the entry
 * @param offset position in the log, starting at 1
 * @param operation the committed write
 */
public record CommittedEntry(long epoch, long offset, Operation operation) {
  public CommittedEntry {
    Check.argument(epoch >= 0, "epoch %s negative", epoch);
    Check.argument(offset >= 1, "offset %s below 1", offset);
    Check.argument(operation != null, "operation is null");
  }
}
