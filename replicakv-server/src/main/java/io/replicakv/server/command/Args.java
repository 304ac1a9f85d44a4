package io.replicakv.server.command;

import java.nio.charset.StandardCharsets;

/** Parsing of command arguments with Redis's rules and error texts. */
public final class Args {
  private Args() {}

  /** Redis's string2ll: optional '-', no '+', no spaces, no leading zeros, fits in a long. */
  public static long parseLong(byte[] b) {
    long v = parseLongOr(b, Long.MIN_VALUE, true);
    if (v == Long.MIN_VALUE && !isMinLong(b)) {
      throw CommandError.notInteger();
    }
    return v;
  }

  /** Returns the value, or {@code invalid} when the bytes are not an integer. */
  public static long parseLongOr(byte[] b, long invalid, boolean unused) {
    int n = b.length;
    if (n == 0 || n > 20) {
      return invalid;
    }
    int i = 0;
    boolean negative = false;
    if (b[0] == '-') {
      negative = true;
      i = 1;
      if (n == 1) {
        return invalid;
      }
    }
    if (b[i] == '0') {
      return (n == 1) ? 0 : invalid;
    }
    long v = 0;
    for (; i < n; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        return invalid;
      }
      if (v < (Long.MIN_VALUE + d) / 10) {
        return invalid; // would overflow (accumulate negatively to reach MIN_VALUE)
      }
      v = v * 10 - d;
    }
    if (negative) {
      return v;
    }
    if (v == Long.MIN_VALUE) {
      return invalid;
    }
    return -v;
  }

  private static boolean isMinLong(byte[] b) {
    return "-9223372036854775808".equals(new String(b, StandardCharsets.US_ASCII));
  }

  public static int parseInt(byte[] b) {
    long v = parseLong(b);
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw CommandError.notInteger();
    }
    return (int) v;
  }

  /** A float as Redis's strtold accepts it, finite, no spaces. */
  public static double parseDouble(byte[] b, String error) {
    String s = new String(b, StandardCharsets.US_ASCII);
    if (s.isEmpty()
        || Character.isWhitespace(s.charAt(0))
        || Character.isWhitespace(s.charAt(s.length() - 1))) {
      throw new CommandError(error);
    }
    String lower = s.toLowerCase(java.util.Locale.ROOT);
    switch (lower) {
      case "inf", "+inf", "infinity", "+infinity" -> {
        return Double.POSITIVE_INFINITY;
      }
      case "-inf", "-infinity" -> {
        return Double.NEGATIVE_INFINITY;
      }
      default -> {}
    }
    if (lower.contains("nan")
        || lower.endsWith("d")
        || lower.endsWith("f")
        || lower.startsWith("0x")) {
      throw new CommandError(error);
    }
    try {
      return Double.parseDouble(s);
    } catch (NumberFormatException e) {
      throw new CommandError(error);
    }
  }

  /** Redis's human form of a float: no exponent, no trailing zeros. */
  public static String formatDouble(double d) {
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    if (d == Math.rint(d) && Math.abs(d) < 1e17) {
      return Long.toString((long) d);
    }
    return new java.math.BigDecimal(Double.toString(d)).stripTrailingZeros().toPlainString();
  }

  /** ASCII-only case-insensitive comparison of an argument with an upper-case keyword. */
  public static boolean is(byte[] arg, String upperKeyword) {
    int n = upperKeyword.length();
    if (arg.length != n) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      int c = arg[i];
      if (c >= 'a' && c <= 'z') {
        c -= 32;
      }
      if (c != upperKeyword.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  public static String upper(byte[] arg) {
    byte[] copy = new byte[arg.length];
    for (int i = 0; i < arg.length; i++) {
      byte c = arg[i];
      copy[i] = (c >= 'a' && c <= 'z') ? (byte) (c - 32) : c;
    }
    return new String(copy, StandardCharsets.ISO_8859_1);
  }

  public static String text(byte[] arg) {
    return new String(arg, StandardCharsets.UTF_8);
  }
}
