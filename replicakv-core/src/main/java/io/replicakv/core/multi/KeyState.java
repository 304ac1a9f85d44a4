package io.replicakv.core.multi;

import io.replicakv.core.causal.Dot;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.Check;
import java.util.Comparator;
import java.util.List;

/**
 * What a site holds for one key: the live versions (one, or several concurrent ones) and the
 * context, the join of every change to the key the site has applied.
 *
 * @param context every change to this key applied here
 * @param live versions no applied change has overwritten, in dot order
 */
public record KeyState(VersionVector context, List<Version> live) {
  /** A key never written. */
  public static final KeyState EMPTY = new KeyState(VersionVector.EMPTY, List.of());

  /** One surviving write: its identity, timestamp, value and (lock writes) fencing token. */
  public record Version(Dot dot, Hlc timestamp, Mutation value, long fencingToken) {
    /** A version written without a lock. */
    public Version(Dot dot, Hlc timestamp, Mutation value) {
      this(dot, timestamp, value, 0);
    }

    public Version {
      Check.notNull(dot, "dot");
      Check.notNull(timestamp, "timestamp");
      Check.notNull(value, "value");
    }

    /** The version a change writes. */
    public static Version of(Change change) {
      return new Version(
          change.dot(), change.timestamp(), change.mutation(), change.fencingToken());
    }
  }

  public KeyState {
    Check.notNull(context, "context");
    live = live.stream().sorted(Comparator.comparing(Version::dot)).toList();
    for (Version version : live) {
      Check.state(
          context.contains(version.dot()), "live %s outside context %s", version.dot(), context);
    }
  }
}
