package io.replicakv.sim;

/** Always-on checks for the simulator's own invariants (JVM assert is off by default). */
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
