package io.replicakv.storage.data;

import io.replicakv.core.util.Check;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads what {@link ByteWriter} wrote, trusting nothing: every length is checked against the bytes
 * that remain, varints must be minimal (so that a decoded record re-encodes to the same bytes), and
 * any violation is an {@link IllegalArgumentException}, never an index or allocation error.
 */
final class ByteReader {
  private final byte[] buffer;
  private int position;

  ByteReader(byte[] buffer) {
    this.buffer = Check.notNull(buffer, "encoded bytes");
  }

  int remaining() {
    return buffer.length - position;
  }

  int readByte() {
    if (position >= buffer.length) {
      throw new IllegalArgumentException("truncated at byte " + position);
    }
    return buffer[position++] & 0xFF;
  }

  long readVarLong() {
    long result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      int b = readByte();
      if (shift == 63 && b > 1) {
        throw new IllegalArgumentException("varint overflows 64 bits at byte " + position);
      }
      result |= (long) (b & 0x7F) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) {
          throw new IllegalArgumentException("non-minimal varint ending at byte " + position);
        }
        return result;
      }
    }
    throw new IllegalArgumentException("varint longer than 10 bytes at byte " + position);
  }

  /** A varint in {@code [0, max]}. */
  long readVarLong(String what, long max) {
    long value = readVarLong();
    if (value < 0 || value > max) {
      throw new IllegalArgumentException(
          what + " " + Long.toUnsignedString(value) + " outside [0, " + max + "]");
    }
    return value;
  }

  int readVarInt(String what, int max) {
    return (int) readVarLong(what, max);
  }

  byte[] readByteString() {
    int length = readBoundedByRemaining("byte string length");
    byte[] bytes = new byte[length];
    System.arraycopy(buffer, position, bytes, 0, length);
    position += length;
    return bytes;
  }

  /** A count of elements that take at least one byte each, so it cannot exceed what remains. */
  int readCount(String what) {
    return readBoundedByRemaining(what);
  }

  /** A varint no larger than the bytes left after it (measured once the varint is consumed). */
  private int readBoundedByRemaining(String what) {
    long value = readVarLong();
    int remaining = remaining();
    if (value < 0 || value > remaining) {
      throw new IllegalArgumentException(
          what + " " + Long.toUnsignedString(value) + " exceeds the " + remaining + " bytes left");
    }
    return (int) value;
  }

  List<byte[]> readByteStringList() {
    int count = readCount("element count");
    List<byte[]> elements = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      elements.add(readByteString());
    }
    return elements;
  }

  void expectEnd() {
    if (position != buffer.length) {
      throw new IllegalArgumentException(
          (buffer.length - position) + " trailing bytes after byte " + position);
    }
  }
}
