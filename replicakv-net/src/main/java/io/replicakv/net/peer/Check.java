package io.replicakv.net.peer;

/**
 * Always-on invariant and argument checks for the peer transport. JVM {@code assert} is off by
 * default, so the transport uses these instead; each call checks one thing and names the values in
 * its message.
 */
final class Check {
  private Check() {}

  /** Hot-path form: no varargs array, no boxing unless the check fails. */
  static void argument(boolean condition, String format, long value) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, value));
    }
  }

  /** Hot-path form: no varargs array, no boxing unless the check fails. */
  static void argument(boolean condition, String format, long first, long second) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, first, second));
    }
  }

  static void argument(boolean condition, String format, Object... values) {
    if (!condition) {
      throw new IllegalArgumentException(String.format(format, values));
    }
  }

  /** Hot-path form: no varargs array, no boxing unless the check fails. */
  static void state(boolean condition, String format, long value) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, value));
    }
  }

  static void state(boolean condition, String format, Object... values) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, values));
    }
  }

  static <T> T notNull(T value, String name) {
    if (value == null) {
      throw new NullPointerException(name + " is null");
    }
    return value;
  }
}
