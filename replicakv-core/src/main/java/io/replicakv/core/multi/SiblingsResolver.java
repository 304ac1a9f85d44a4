package io.replicakv.core.multi;

import io.replicakv.core.quorum.ConflictStrategy;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code conflicts=siblings}: concurrent values are all kept; a read returns them with the key's
 * causal context, and a write that carries that context overwrites exactly the values it covers
 * (DDIA chapter 5, "Capturing the happens-before relationship"; Riak siblings).
 *
 * <p>The live set is the set of writes no applied write has seen: the same for every site that
 * applied the same changes, whatever the (causal) order. Its size is bounded by the number of truly
 * concurrent writers, because every write that read first covers all it read (LESSONS.md 4).
 */
public final class SiblingsResolver implements ConflictResolver {
  @Override
  public ConflictStrategy strategy() {
    return ConflictStrategy.SIBLINGS;
  }

  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    return applySiblings(current, change, metrics);
  }

  static KeyState applySiblings(KeyState current, Change change, ConflictMetrics metrics) {
    List<KeyState.Version> live = new ArrayList<>(ConflictResolver.concurrentWith(current, change));
    if (!live.isEmpty()) {
      metrics.increment(ConflictMetrics.CONCURRENT_WRITES);
      if (current.live().size() <= 1) {
        metrics.increment(ConflictMetrics.SIBLINGS_CREATED);
      }
    }
    live.add(KeyState.Version.of(change));
    return new KeyState(current.context().merge(change.keyContext()).with(change.dot()), live);
  }

  @Override
  public SiteRead read(KeyState state) {
    // A value concurrent with a delete stays visible (the delete did not see it); the read is
    // flagged, and a write or delete with its context settles it.
    return new SiteRead(LwwResolver.visibleValues(state), state.context(), state.live().size() > 1);
  }
}
