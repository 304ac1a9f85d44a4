package io.replicakv.core.multi;

import io.replicakv.core.quorum.ConflictStrategy;

/**
 * {@code conflicts=lock}: writes happen only under the key's lock ({@link SiteLocks}), and each
 * holder first applies every write made under earlier grants, so every write causally follows the
 * previous one and no conflict can arise. The state is kept as last-writer-wins would keep it; a
 * concurrent pair, which the protocol rules out, would still be resolved deterministically and be
 * counted in {@link ConflictMetrics#CONCURRENT_WRITES}, which the simulator requires to stay 0.
 */
public final class LockResolver implements ConflictResolver {
  private final LwwResolver lww = new LwwResolver();

  @Override
  public ConflictStrategy strategy() {
    return new ConflictStrategy(ConflictStrategy.Kind.LOCK, "");
  }

  /**
   * The storage side of fencing (LESSONS.md 12): a write that causally overwrites the live version
   * must carry a larger fencing token. A stale holder's write is refused on every site alike
   * (causally ordered writes are applied in the same order everywhere), counted and listed.
   */
  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    if (!current.live().isEmpty()) {
      KeyState.Version live = current.live().get(0);
      boolean overwrites = change.keyContext().contains(live.dot());
      if (overwrites && change.fencingToken() <= live.fencingToken()) {
        metrics.increment(ConflictMetrics.FENCING_REFUSALS);
        metrics.lostWrite(
            new LostWrite(
                key,
                change.dot(),
                change.timestamp(),
                LwwResolver.describe(KeyState.Version.of(change)),
                live.dot()));
        return new KeyState(
            current.context().merge(change.keyContext()).with(change.dot()), current.live());
      }
    }
    return lww.apply(key, current, change, metrics);
  }

  /**
   * Joins another site's state of the key as lww does: lock writes are causally ordered, so two
   * versions survive the join only after a lock site changed hands, and lww settles them.
   */
  @Override
  public KeyState merge(String key, KeyState mine, KeyState theirs, ConflictMetrics metrics) {
    return lww.merge(key, mine, theirs, metrics);
  }

  @Override
  public SiteRead read(KeyState state) {
    return lww.read(state);
  }
}
