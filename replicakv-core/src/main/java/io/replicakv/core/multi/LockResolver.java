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

  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    return lww.apply(key, current, change, metrics);
  }

  @Override
  public SiteRead read(KeyState state) {
    return lww.read(state);
  }
}
