package io.replicakv.storage;

import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * File names that carry a log sequence: 20 zero-padded decimal digits and a suffix, so that the
 * lexical order of a directory listing is sequence order. Log segments ({@code .log}, named by
 * their first sequence) and snapshots ({@code .snapshot}, named by the last sequence they include)
 * both use it.
 */
public final class SequenceFileNames {
  /** Digits of the sequence part: enough for any non-negative long. */
  static final int DIGITS = 20;

  private SequenceFileNames() {}

  /** The name of the file for {@code sequence} with {@code suffix} (which starts with a dot). */
  public static String format(long sequence, String suffix) {
    if (sequence < 0) {
      throw new IllegalArgumentException("sequence " + sequence + " is negative");
    }
    return String.format("%0" + DIGITS + "d%s", sequence, suffix);
  }

  /** The sequence in {@code file}'s name, or empty when the name is not digits plus suffix. */
  public static OptionalLong parse(Path file, String suffix) {
    String name = file.getFileName().toString();
    if (name.length() != DIGITS + suffix.length() || !name.endsWith(suffix)) {
      return OptionalLong.empty();
    }
    for (int i = 0; i < DIGITS; i++) {
      char c = name.charAt(i);
      if (c < '0' || c > '9') {
        return OptionalLong.empty();
      }
    }
    try {
      return OptionalLong.of(Long.parseLong(name.substring(0, DIGITS)));
    } catch (NumberFormatException overflow) {
      return OptionalLong.empty();
    }
  }
}
