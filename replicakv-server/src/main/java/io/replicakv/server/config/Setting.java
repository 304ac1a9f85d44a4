package io.replicakv.server.config;

import java.util.List;
import java.util.Locale;

/**
 * One configuration setting: its name (Redis's name where Redis has one), kind, default and whether
 * {@code CONFIG SET} may change it while the node runs.
 */
public record Setting(
    String name,
    Kind kind,
    String defaultValue,
    boolean mutable,
    String description,
    List<String> choices,
    long min,
    long max) {

  /** How a value is written and checked. */
  public enum Kind {
    INTEGER,
    /** A byte count, with Redis's units: 100, 64kb, 64k, 512mb, 1gb. */
    BYTES,
    CHOICE,
    STRING,
    BOOLEAN
  }

  static Setting integer(String name, long def, long min, long max, boolean mutable, String doc) {
    return new Setting(name, Kind.INTEGER, Long.toString(def), mutable, doc, List.of(), min, max);
  }

  static Setting bytes(String name, String def, long min, boolean mutable, String doc) {
    return new Setting(name, Kind.BYTES, def, mutable, doc, List.of(), min, Long.MAX_VALUE);
  }

  static Setting choice(
      String name, String def, List<String> choices, boolean mutable, String doc) {
    return new Setting(name, Kind.CHOICE, def, mutable, doc, choices, 0, 0);
  }

  static Setting string(String name, String def, boolean mutable, String doc) {
    return new Setting(name, Kind.STRING, def, mutable, doc, List.of(), 0, 0);
  }

  static Setting bool(String name, boolean def, boolean mutable, String doc) {
    return new Setting(name, Kind.BOOLEAN, def ? "yes" : "no", mutable, doc, List.of(), 0, 0);
  }

  /** Checks a value and returns its canonical text; throws naming this setting when it is bad. */
  public String canonical(String raw) {
    String value = raw.trim();
    switch (kind) {
      case INTEGER -> {
        long v;
        try {
          v = Long.parseLong(value);
        } catch (NumberFormatException e) {
          throw new ConfigException("setting '" + name + "': '" + raw + "' is not an integer");
        }
        checkRange(v, raw);
        return Long.toString(v);
      }
      case BYTES -> {
        long v = parseBytes(value);
        if (v < 0) {
          throw new ConfigException(
              "setting '"
                  + name
                  + "': '"
                  + raw
                  + "' is not a size (examples: 1048576, 64kb, 512mb, 2gb)");
        }
        checkRange(v, raw);
        return Long.toString(v);
      }
      case CHOICE -> {
        String v = value.toLowerCase(Locale.ROOT);
        if (!choices.contains(v)) {
          throw new ConfigException(
              "setting '" + name + "': '" + raw + "' is not one of " + String.join(", ", choices));
        }
        return v;
      }
      case BOOLEAN -> {
        String v = value.toLowerCase(Locale.ROOT);
        return switch (v) {
          case "yes", "true", "on", "1" -> "yes";
          case "no", "false", "off", "0" -> "no";
          default ->
              throw new ConfigException("setting '" + name + "': '" + raw + "' is not yes or no");
        };
      }
      default -> {
        return value;
      }
    }
  }

  private void checkRange(long v, String raw) {
    if (v < min || v > max) {
      throw new ConfigException(
          "setting '"
              + name
              + "': "
              + raw
              + " is out of range ["
              + min
              + ", "
              + (max == Long.MAX_VALUE ? "unlimited" : max)
              + "]");
    }
  }

  /** Parses Redis-style sizes; returns -1 when the text is not one. */
  static long parseBytes(String text) {
    String t = text.toLowerCase(Locale.ROOT);
    long unit = 1;
    String digits = t;
    String[][] units = {
      {"gb", "1073741824"},
      {"mb", "1048576"},
      {"kb", "1024"},
      {"g", "1000000000"},
      {"m", "1000000"},
      {"k", "1000"},
      {"b", "1"}
    };
    for (String[] u : units) {
      if (t.endsWith(u[0])) {
        unit = Long.parseLong(u[1]);
        digits = t.substring(0, t.length() - u[0].length());
        break;
      }
    }
    try {
      long n = Long.parseLong(digits.trim());
      if (n < 0) {
        return -1;
      }
      return Math.multiplyExact(n, unit);
    } catch (NumberFormatException | ArithmeticException e) {
      return -1;
    }
  }
}
