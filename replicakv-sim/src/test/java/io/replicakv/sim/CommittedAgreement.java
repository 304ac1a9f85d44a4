package io.replicakv.sim;

import io.replicakv.core.CommittedEntry;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * State-machine safety: once any replica reports an entry committed at an offset, no replica ever
 * reports a different entry committed at that offset (Raft's State Machine Safety property). A
 * replica re-reporting the same entry after a restart is fine.
 */
public final class CommittedAgreement implements Invariant {
  private final Map<Long, NodeCommit> firstByOffset = new HashMap<>();

  @Override
  public Optional<String> check(View view) {
    for (NodeCommit commit : view.committedThisEvent()) {
      CommittedEntry entry = commit.entry();
      NodeCommit first = firstByOffset.putIfAbsent(entry.offset(), commit);
      if (first != null && !first.entry().equals(entry)) {
        return Optional.of(
            "node "
                + commit.nodeId()
                + " committed "
                + entry
                + " at offset "
                + entry.offset()
                + " but node "
                + first.nodeId()
                + " committed "
                + first.entry());
      }
    }
    return Optional.empty();
  }
}
