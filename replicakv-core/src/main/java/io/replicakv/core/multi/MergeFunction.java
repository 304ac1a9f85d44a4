package io.replicakv.core.multi;

/**
 * A named function that combines two concurrent values of a {@code conflicts=merge:NAME} keyspace.
 * A site folds the live concurrent values with it, in dot order, when a key is read.
 *
 * <p>User-supplied functions must be commutative, associative and idempotent, so that the result is
 * "the merge of the concurrent writes" whatever order the fold takes and however the writes are
 * grouped; {@link MergeFunctions#register} checks this before accepting one.
 */
@FunctionalInterface
public interface MergeFunction {
  /** The combination of two concurrent values; must not throw for values of its domain. */
  String merge(String left, String right);

  /** The values a merge function accepts; a write outside the domain is refused. */
  enum Domain {
    /** Decimal 64-bit integers. */
    INTEGERS,
    /** Sets written as comma-separated elements without spaces, e.g. {@code a,b,c}. */
    SETS,
    /** Any string. */
    STRINGS;

    /** True when {@code value} belongs to this domain. */
    public boolean accepts(String value) {
      return switch (this) {
        case INTEGERS -> isInteger(value);
        case SETS -> !value.contains(" ");
        case STRINGS -> true;
      };
    }

    private static boolean isInteger(String value) {
      try {
        Long.parseLong(value);
        return true;
      } catch (NumberFormatException e) {
        return false;
      }
    }
  }
}
