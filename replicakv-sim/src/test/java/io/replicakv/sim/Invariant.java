package io.replicakv.sim;

import io.replicakv.core.CommittedEntry;
import io.replicakv.core.Replica;
import java.util.List;
import java.util.Optional;

/**
 * A property checked after every simulated event. It returns a description of what is wrong, or
 * empty; the first violation stops the run and is reported with its seed and replay command.
 * Implementations may keep state across calls (one instance per run).
 */
public interface Invariant {
  /** What an invariant may look at. */
  interface View {
    /** Simulated time now. */
    long nowMillis();

    /** Index of the event just processed. */
    long eventIndex();

    /** The node's running replica, empty while it is down. */
    Optional<Replica> replica(int nodeId);

    /** Entries replicas reported committed while processing the event just processed. */
    List<NodeCommit> committedThisEvent();
  }

  /** One node's report that an entry is committed. */
  record NodeCommit(int nodeId, CommittedEntry entry) {}

  /** Empty when the property holds after the event just processed. */
  Optional<String> check(View view);
}
