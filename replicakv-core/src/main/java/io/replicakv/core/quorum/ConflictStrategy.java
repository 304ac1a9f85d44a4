package io.replicakv.core.quorum;

import io.replicakv.core.util.Check;
import java.util.Set;

/**
 * How concurrent writes to one key are resolved: kept as siblings, last writer wins, merged as a
 * CRDT, merged by a named function, prevented by a lock, or avoided by routing each key to a home
 * site (DESIGN.md, "Multi-leader").
 *
 * @param kind the strategy
 * @param mergeFunction for {@link Kind#MERGE}: a built-in name or a registered class name; else ""
 */
public record ConflictStrategy(Kind kind, String mergeFunction) {
  /** The strategies. */
  public enum Kind {
    /** Keep every concurrent value with a causal context; a later write resolves them. */
    SIBLINGS,
    /** Keep the value with the largest HLC timestamp; drop the others (counted). */
    LWW,
    /** Type the key by its commands and merge as a CRDT. */
    CRDT,
    /** Merge concurrent values with a named function. */
    MERGE,
    /**
     * Take a per-key lock at the key's lock site before writing: no conflicts, cross-site latency.
     */
    LOCK,
    /** Route every write of a key to its home site: conflicts only after the home site changes. */
    HOME_SITE
  }

  /** The merge functions every node knows without registration. */
  public static final Set<String> BUILT_IN_MERGES = Set.of("union", "max", "min", "sum", "concat");

  /** Validates that only MERGE carries a function name. */
  public ConflictStrategy {
    Check.notNull(kind, "kind");
    Check.notNull(mergeFunction, "mergeFunction");
    Check.argument(
        kind == Kind.MERGE || mergeFunction.isEmpty(),
        "only merge takes a function name, %s got '%s'",
        kind,
        mergeFunction);
  }

  /** {@code siblings}. */
  public static final ConflictStrategy SIBLINGS = new ConflictStrategy(Kind.SIBLINGS, "");

  /** {@code lww}. */
  public static final ConflictStrategy LWW = new ConflictStrategy(Kind.LWW, "");

  /** {@code crdt}. */
  public static final ConflictStrategy CRDT = new ConflictStrategy(Kind.CRDT, "");

  /**
   * Parses {@code siblings}, {@code lww}, {@code crdt}, {@code merge:NAME}, {@code lock}, {@code
   * home-site}.
   */
  public static ConflictStrategy parse(String text) {
    if (text.startsWith("merge:")) {
      return new ConflictStrategy(Kind.MERGE, text.substring("merge:".length()));
    }
    return switch (text) {
      case "siblings" -> SIBLINGS;
      case "lww" -> LWW;
      case "crdt" -> CRDT;
      case "lock" -> new ConflictStrategy(Kind.LOCK, "");
      case "home-site" -> new ConflictStrategy(Kind.HOME_SITE, "");
      default -> throw new IllegalArgumentException("unknown conflicts strategy '" + text + "'");
    };
  }

  @Override
  public String toString() {
    return switch (kind) {
      case MERGE -> "merge:" + mergeFunction;
      case HOME_SITE -> "home-site";
      default -> kind.name().toLowerCase(java.util.Locale.ROOT);
    };
  }
}
