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

  /**
   * The key's state after joining {@code theirs}, another site's state of the key (a catch-up,
   * {@link SiteReplica}): the versions neither side has seen overwritten survive, and the contexts
   * join. The result is the state this site would hold had it applied every change behind both
   * states, so sites converge whatever mix of changes and catch-ups they received. This default
   * keeps concurrent versions (siblings, merge functions); strategies that keep one version settle
   * the survivors their own way and count it.
   */
  default KeyState merge(String key, KeyState mine, KeyState theirs, ConflictMetrics metrics) {
    KeyState joined = join(mine, theirs);
    if (joined.live().size() > Math.max(mine.live().size(), theirs.live().size())) {
      metrics.increment(ConflictMetrics.CONCURRENT_WRITES);
    }
    return joined;
  }

  /**
   * The dotted-version-vector join of two states of one key: a version survives unless the other
   * side's context covers it without holding it live (the other side saw it overwritten).
   */
  static KeyState join(KeyState mine, KeyState theirs) {
    java.util.Map<io.replicakv.core.causal.Dot, KeyState.Version> live = new java.util.TreeMap<>();
    java.util.Set<io.replicakv.core.causal.Dot> theirLive = new java.util.HashSet<>();
    theirs.live().forEach(version -> theirLive.add(version.dot()));
    java.util.Set<io.replicakv.core.causal.Dot> myLive = new java.util.HashSet<>();
    mine.live().forEach(version -> myLive.add(version.dot()));
    for (KeyState.Version version : mine.live()) {
      if (!theirs.context().contains(version.dot()) || theirLive.contains(version.dot())) {
        live.put(version.dot(), version);
      }
    }
    for (KeyState.Version version : theirs.live()) {
      if (!mine.context().contains(version.dot()) || myLive.contains(version.dot())) {
        live.putIfAbsent(version.dot(), version);
      }
    }
    return new KeyState(
        mine.context().merge(theirs.context()), java.util.List.copyOf(live.values()));
  }

  /** The live versions {@code change} does not overwrite: those concurrent with it. */
  static java.util.List<KeyState.Version> concurrentWith(KeyState current, Change change) {
    return current.live().stream()
        .filter(version -> !change.keyContext().contains(version.dot()))
        .toList();
  }
}
