package io.replicakv.storage.log;

/** Always-on invariant checks; a failure means a bug, not an expected fault. */
final class Check {
  private Check() {}

  static void state(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, args));
    }
  }

  static void argument(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, args));
    }
  }
}
