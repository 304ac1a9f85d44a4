package io.replicakv.net.resp;

/**
 * Formats a double the way Redis 7.2+ sends it ({@code util.c d2string}), so that scores and
 * INCRBYFLOAT-style replies read the same as from redis-server.
 *
 * <p>Rules: NaN is {@code nan}, infinities are {@code inf} and {@code -inf}, zeros are {@code 0}
 * and {@code -0}; a whole number within ±2^62 prints as an integer; anything else prints the
 * shortest decimal digits that read back as the same double, laid out as Redis's {@code
 * fpconv_dtoa} lays them out: plain digits when the number of trailing zeros is small, a plain
 * decimal fraction when the exponent is small ({@code 0.0001}, {@code 123.456}), and otherwise
 * {@code d.ddde+XX} with no padding in the exponent ({@code 1e+25}, {@code 1.5e-7}).
 *
 * <p>Redis finds the digits with Grisu2, which in rare cases yields one digit more than the
 * shortest; this class uses the JDK's shortest representation ({@link Double#toString}, exact since
 * JDK 19), so in those rare cases our text is one digit shorter but reads back as the same double.
 */
final class RedisDoubleFormat {
  private RedisDoubleFormat() {}

  /** Whole numbers up to this magnitude print as integers (Redis {@code double2ll}). */
  private static final double INTEGER_PRINT_MAX = (double) (Long.MAX_VALUE / 2);

  static String format(double value) {
    if (Double.isNaN(value)) {
      return "nan";
    }
    if (Double.isInfinite(value)) {
      return value > 0 ? "inf" : "-inf";
    }
    if (value == 0) {
      return (Double.doubleToRawLongBits(value) < 0) ? "-0" : "0";
    }
    if (value >= -INTEGER_PRINT_MAX && value <= INTEGER_PRINT_MAX) {
      long whole = (long) value;
      if (whole == value) {
        return Long.toString(whole);
      }
    }
    return formatDigits(value);
  }

  /** The fpconv layout of the shortest digits of a finite, non-zero value. */
  private static String formatDigits(double value) {
    boolean negative = value < 0;
    String shortest = Double.toString(Math.abs(value));
    // Split "123.456" or "1.2345E-7" into significant digits and a decimal exponent K, value =
    // digits * 10^K.
    StringBuilder digits = new StringBuilder(20);
    int exponentMark = shortest.indexOf('E');
    int mantissaEnd = exponentMark < 0 ? shortest.length() : exponentMark;
    int fractionDigits = 0;
    boolean afterPoint = false;
    for (int i = 0; i < mantissaEnd; i++) {
      char c = shortest.charAt(i);
      if (c == '.') {
        afterPoint = true;
      } else {
        digits.append(c);
        if (afterPoint) {
          fractionDigits++;
        }
      }
    }
    int k = (exponentMark < 0 ? 0 : Integer.parseInt(shortest.substring(exponentMark + 1)));
    k -= fractionDigits;
    int leadingZeros = 0;
    while (leadingZeros < digits.length() - 1 && digits.charAt(leadingZeros) == '0') {
      leadingZeros++;
    }
    digits.delete(0, leadingZeros);
    while (digits.length() > 1 && digits.charAt(digits.length() - 1) == '0') {
      digits.setLength(digits.length() - 1);
      k++;
    }
    StringBuilder text = new StringBuilder(26);
    if (negative) {
      text.append('-');
    }
    layOut(digits, k, text);
    return text.toString();
  }

  /** fpconv's {@code emit_digits}: value = digits * 10^k. */
  private static void layOut(CharSequence digits, int k, StringBuilder text) {
    int count = digits.length();
    int exponent = Math.abs(k + count - 1);
    if (k >= 0 && exponent < count + 7) {
      text.append(digits);
      text.repeat('0', k);
      return;
    }
    if (k < 0 && (k > -7 || exponent < 4)) {
      int integerDigits = count + k;
      if (integerDigits <= 0) {
        text.append("0.");
        text.repeat('0', -integerDigits);
        text.append(digits);
      } else {
        text.append(digits, 0, integerDigits).append('.').append(digits, integerDigits, count);
      }
      return;
    }
    text.append(digits.charAt(0));
    if (count > 1) {
      text.append('.').append(digits, 1, count);
    }
    text.append('e').append(k + count - 1 < 0 ? '-' : '+').append(exponent);
  }
}
