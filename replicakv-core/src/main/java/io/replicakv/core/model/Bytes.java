package io.replicakv.core.model;

import io.replicakv.core.util.Check;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An immutable byte string: a Redis key, value, set member or hash field.
 *
 * <p>Redis values are binary-safe, so the data types hold bytes rather than {@link String}.
 * Equality and hashing are by content; ordering is unsigned lexicographic, which gives every
 * collection of values a canonical order for encoding and for deterministic tie-breaks.
 */
public final class Bytes implements Comparable<Bytes> {
  /** The empty byte string. */
  public static final Bytes EMPTY = new Bytes(new byte[0]);

  private final byte[] content;

  private Bytes(byte[] content) {
    this.content = content;
  }

  /** Copies {@code content} into a new byte string. */
  public static Bytes of(byte[] content) {
    return new Bytes(Check.notNull(content, "content").clone());
  }

  /** The UTF-8 bytes of {@code text}. */
  public static Bytes utf8(String text) {
    return new Bytes(text.getBytes(StandardCharsets.UTF_8));
  }

  /** A copy of the content. */
  public byte[] toByteArray() {
    return content.clone();
  }

  /** Length in bytes. */
  public int sizeBytes() {
    return content.length;
  }

  /** The byte at {@code index}, as an unsigned value. */
  public int byteAt(int index) {
    return content[index] & 0xFF;
  }

  /** Decodes the content as UTF-8, for logs and tests. */
  public String toUtf8() {
    return new String(content, StandardCharsets.UTF_8);
  }

  @Override
  public int compareTo(Bytes other) {
    return Arrays.compareUnsigned(content, other.content);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Bytes that && Arrays.equals(content, that.content);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(content);
  }

  @Override
  public String toString() {
    return toUtf8();
  }
}
