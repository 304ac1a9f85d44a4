package io.replicakv.core;

/**
 * Always-on invariant checks for the core (JVM {@code assert} is off by default). One condition per
 * call, with the values in the message, so a failure names what was wrong.
 */
public final class Check {
  private Check() {}

  /** Fails with {@link IllegalStateException} when an internal invariant does not hold. */
  public static void state(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, args));
    }
  }

  /** Fails with {@link IllegalArgumentException} when an input entering the core is malformed. */
  public static void argument(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, args));
    }
  }
}
