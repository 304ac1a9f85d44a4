package io.replicakv.core.util;

/**
 * Invariant and argument checks that are always on, shared by every module.
 *
 * <p>JVM {@code assert} is off unless a flag is passed, so a broken invariant would go unnoticed in
 * production exactly where it matters. Each call checks one thing and formats its message only on
 * failure, so a check costs a branch on the happy path; the {@code long} overloads keep hot paths
 * from boxing their values.
 */
public final class Check {
  private Check() {}

  /** Fails with {@link IllegalStateException} when an internal invariant does not hold. */
  public static void state(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException(message);
    }
  }

  public static void state(boolean condition, String format, long value) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, value));
    }
  }

  public static void state(boolean condition, String format, long first, long second) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, first, second));
    }
  }

  public static void state(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, args));
    }
  }

  /** Fails with {@link IllegalArgumentException} when a caller's input is unacceptable. */
  public static void argument(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }

  public static void argument(boolean condition, String format, long value) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, value));
    }
  }

  public static void argument(boolean condition, String format, long first, long second) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, first, second));
    }
  }

  public static void argument(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, args));
    }
  }

  /** Returns {@code value}, failing with {@link NullPointerException} naming it when null. */
  public static <T> T notNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name + " must not be null");
    }
    return value;
  }
}
