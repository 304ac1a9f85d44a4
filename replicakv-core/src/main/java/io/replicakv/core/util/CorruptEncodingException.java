package io.replicakv.core.util;

/**
 * A binary form could not be decoded: unknown format version, truncated input, a length past its
 * bound, or trailing bytes. An expected fault at a boundary (a peer or a file sent bad bytes), so
 * it is reported to the caller rather than treated as a broken invariant.
 */
public final class CorruptEncodingException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a message that says what was wrong and where. */
  public CorruptEncodingException(String message) {
    super(message);
  }
}
