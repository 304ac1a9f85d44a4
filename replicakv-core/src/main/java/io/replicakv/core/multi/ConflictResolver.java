package io.replicakv.core.multi;

import io.replicakv.core.quorum.ConflictStrategy;

/**
 * One conflict strategy of a multi-leader keyspace: how a change is folded into a key's state and
 * what a read of that state returns.
 *
 * <p>Contract, relied on by {@link SiteReplica} and checked by the simulator: changes arrive in
 * causal order, each exactly once per site, so {@code change.keyContext()} never covers a dot the
 * site has not applied. Two sites that applied the same set of changes, in any causal order, must
 * hold states that read the same. Every concurrent write the strategy resolves is counted in {@link
 * ConflictMetrics}; nothing is resolved silently.
 */
public interface ConflictResolver {
  /** The strategy as configured. */
  ConflictStrategy strategy();

  /** The key's state after {@code change}. */
  KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics);

  /** What a client reads from {@code state}. */
  SiteRead read(KeyState state);

  /** The live versions {@code change} does not overwrite: those concurrent with it. */
  static java.util.List<KeyState.Version> concurrentWith(KeyState current, Change change) {
    return current.live().stream()
        .filter(version -> !change.keyContext().contains(version.dot()))
        .toList();
  }
}
