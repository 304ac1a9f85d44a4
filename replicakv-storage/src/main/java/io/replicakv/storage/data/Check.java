package io.replicakv.storage.data;

/**
 * Always-on invariant and argument checks. JVM {@code assert} is off in production, and a broken
 * invariant in the live data must stop the node loudly rather than corrupt what it serves.
 * Overloads take primitives so that a passing check allocates nothing on the hot path.
 */
final class Check {
  private Check() {}

  static void state(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException(message);
    }
  }

  static void state(boolean condition, String format, long a) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, a));
    }
  }

  static void state(boolean condition, String format, long a, long b) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, a, b));
    }
  }

  static void argument(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }

  static void argument(boolean condition, String format, long a) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, a));
    }
  }

  static void argument(boolean condition, String format, long a, long b) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, a, b));
    }
  }

  static <T> T notNull(T value, String what) {
    if (value == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    return value;
  }
}
