package io.replicakv.core.multi;

import io.replicakv.core.quorum.ConflictStrategy;
import io.replicakv.core.util.Check;
import java.util.Comparator;
import java.util.List;

/**
 * {@code conflicts=lww}: the write with the larger HLC timestamp wins, ties broken by site id.
 *
 * <p>Causality comes first: a change whose key context covers the live version overwrites it
 * whatever the timestamps say; only a truly concurrent pair is decided by timestamp, and the loser
 * is counted and kept in the lost-writes window ({@link ConflictMetrics#lostWrite}). Because the
 * HLC of a causally later write is always larger, the survivor is the maximum by (timestamp, site)
 * over all writes, whatever order the site applied them in, so sites converge.
 */
public final class LwwResolver implements ConflictResolver {
  static final Comparator<KeyState.Version> ORDER =
      Comparator.comparing(KeyState.Version::timestamp)
          .thenComparing(version -> version.dot().replicaId());

  @Override
  public ConflictStrategy strategy() {
    return ConflictStrategy.LWW;
  }

  @Override
  public KeyState apply(String key, KeyState current, Change change, ConflictMetrics metrics) {
    Check.state(current.live().size() <= 1, "lww key %s has %s live", key, current.live().size());
    KeyState.Version incoming = KeyState.Version.of(change);
    KeyState.Version winner = incoming;
    List<KeyState.Version> concurrent = ConflictResolver.concurrentWith(current, change);
    if (!concurrent.isEmpty()) {
      KeyState.Version other = concurrent.get(0);
      metrics.increment(ConflictMetrics.CONCURRENT_WRITES);
      winner = ORDER.compare(incoming, other) > 0 ? incoming : other;
      KeyState.Version loser = winner == incoming ? other : incoming;
      metrics.lostWrite(
          new LostWrite(key, loser.dot(), loser.timestamp(), describe(loser), winner.dot()));
    }
    return new KeyState(
        current.context().merge(change.keyContext()).with(change.dot()), List.of(winner));
  }

  /**
   * Joins another site's state of the key; when both hold a version the other has not seen, the
   * larger by (timestamp, site) survives, as it would have had the changes arrived one by one, and
   * the loser is counted and listed.
   */
  @Override
  public KeyState merge(String key, KeyState mine, KeyState theirs, ConflictMetrics metrics) {
    KeyState joined = ConflictResolver.join(mine, theirs);
    if (joined.live().size() <= 1) {
      return joined;
    }
    KeyState.Version winner = joined.live().stream().max(ORDER).orElseThrow();
    for (KeyState.Version loser : joined.live()) {
      if (loser != winner) {
        metrics.increment(ConflictMetrics.CONCURRENT_WRITES);
        metrics.lostWrite(
            new LostWrite(key, loser.dot(), loser.timestamp(), describe(loser), winner.dot()));
      }
    }
    return new KeyState(joined.context(), List.of(winner));
  }

  @Override
  public SiteRead read(KeyState state) {
    return new SiteRead(visibleValues(state), state.context(), false);
  }

  /** The live values a read shows: tombstones read as nothing. */
  static List<String> visibleValues(KeyState state) {
    return state.live().stream()
        .filter(version -> !version.value().isTombstone())
        .map(LwwResolver::describe)
        .toList();
  }

  static String describe(KeyState.Version version) {
    return switch (version.value()) {
      case Mutation.Assign assign -> assign.value();
      case Mutation.CrdtState crdt -> crdt.state().toString();
      case Mutation.Delete delete -> TOMBSTONE;
    };
  }

  /** How a discarded delete is shown in the lost-writes listing. */
  public static final String TOMBSTONE = "(deleted)";
}
