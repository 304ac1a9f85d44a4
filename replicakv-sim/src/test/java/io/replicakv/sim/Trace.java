package io.replicakv.sim;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.List;

/**
 * The text of a run, one line per event and per effect, folded into a SHA-256 digest as it is
 * written. Two runs of one seed must produce the same digest; that is how determinism is tested.
 * Only the last {@link #TAIL_LINES} lines are kept for failure reports, unless the full text was
 * asked for (tests that diff two runs).
 */
final class Trace {
  /** Lines kept for the failure report. */
  static final int TAIL_LINES = 40;

  /** Characters of full text kept when asked for. */
  static final int FULL_TEXT_CHARS_MAX = 64 * 1024 * 1024;

  private final MessageDigest digest;
  private final ArrayDeque<String> tail = new ArrayDeque<>(TAIL_LINES);
  private final StringBuilder fullText;
  private long lines;

  Trace(boolean keepFullText) {
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from the JDK", e);
    }
    fullText = keepFullText ? new StringBuilder() : null;
  }

  void line(long nowMillis, String text) {
    String line = nowMillis + " " + text;
    digest.update(line.getBytes(StandardCharsets.UTF_8));
    digest.update((byte) '\n');
    lines++;
    if (tail.size() == TAIL_LINES) {
      tail.removeFirst();
    }
    tail.addLast(line);
    if (fullText != null) {
      Check.state(fullText.length() + line.length() < FULL_TEXT_CHARS_MAX, "trace text too long");
      fullText.append(line).append('\n');
    }
  }

  /** Hex digest of every line so far; ends the digest, so call once. */
  String finishDigest() {
    return HexFormat.of().formatHex(digest.digest());
  }

  List<String> tail() {
    return List.copyOf(tail);
  }

  String fullText() {
    return fullText == null ? "" : fullText.toString();
  }

  long lines() {
    return lines;
  }
}
