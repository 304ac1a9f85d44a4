package io.replicakv.core.util;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Reads what {@link ByteWriter} wrote, refusing anything malformed with {@link
 * CorruptEncodingException}.
 *
 * <p>Every length and count read from the input is checked against the bytes that remain and
 * against a caller-supplied maximum before anything is allocated, so a corrupt or hostile length
 * prefix cannot turn into an out-of-memory error.
 */
public final class ByteReader {
  /** Longest varint accepted: 10 bytes hold any 64-bit value. */
  private static final int VARINT_MAX_BYTES = 10;

  private final byte[] input;
  private int position;

  /** Reads from {@code input}, which is not copied and must not change while reading. */
  public ByteReader(byte[] input) {
    this.input = Check.notNull(input, "input");
  }

  /** Reads the leading format-version byte and refuses any version but {@code expected}. */
  public static ByteReader open(byte[] input, int expectedVersion, String typeName) {
    ByteReader reader = new ByteReader(input);
    int version = reader.readByte();
    if (version != expectedVersion) {
      throw new CorruptEncodingException(
          typeName + ": unknown format version " + version + ", expected " + expectedVersion);
    }
    return reader;
  }

  /** Reads one unsigned byte. */
  public int readByte() {
    need(1);
    return input[position++] & 0xFF;
  }

  /** Reads a boolean written as 0 or 1. */
  public boolean readBoolean() {
    int value = readByte();
    if (value > 1) {
      throw new CorruptEncodingException("boolean byte " + value + " at " + (position - 1));
    }
    return value == 1;
  }

  /** Reads a big-endian 32-bit integer. */
  public int readInt() {
    need(4);
    int value = 0;
    for (int i = 0; i < 4; i++) {
      value = (value << 8) | (input[position++] & 0xFF);
    }
    return value;
  }

  /** Reads a big-endian 64-bit integer. */
  public long readLong() {
    need(8);
    long value = 0;
    for (int i = 0; i < 8; i++) {
      value = (value << 8) | (input[position++] & 0xFF);
    }
    return value;
  }

  /** Reads a non-negative varint. */
  public long readVarLong() {
    long value = 0;
    for (int i = 0; i < VARINT_MAX_BYTES; i++) {
      int b = readByte();
      value |= (long) (b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) {
        if (value < 0) {
          throw new CorruptEncodingException("varint overflows a non-negative long");
        }
        return value;
      }
    }
    throw new CorruptEncodingException("varint longer than " + VARINT_MAX_BYTES + " bytes");
  }

  /** Reads a varint that must lie in {@code [0, max]}. */
  public int readVarInt(int max) {
    long value = readVarLong();
    if (value > max) {
      throw new CorruptEncodingException("value " + value + " exceeds bound " + max);
    }
    return (int) value;
  }

  /** Reads a count of items that must not exceed {@code maxItems} nor the bytes remaining. */
  public int readCount(int maxItems) {
    int count = readVarInt(maxItems);
    // Every item costs at least one byte, so a count larger than what remains is corrupt.
    if (count > remaining()) {
      throw new CorruptEncodingException("count " + count + " exceeds remaining " + remaining());
    }
    return count;
  }

  /** Reads a length-prefixed byte array of at most {@code maxBytes}. */
  public byte[] readBytes(int maxBytes) {
    int length = readVarInt(maxBytes);
    need(length);
    byte[] value = Arrays.copyOfRange(input, position, position + length);
    position += length;
    return value;
  }

  /** Reads a length-prefixed UTF-8 string of at most {@code maxBytes} encoded bytes. */
  public String readString(int maxBytes) {
    return new String(readBytes(maxBytes), StandardCharsets.UTF_8);
  }

  /** Bytes not yet read. */
  public int remaining() {
    return input.length - position;
  }

  /** Fails unless every byte has been consumed; trailing garbage means a framing error. */
  public void finish() {
    if (position != input.length) {
      throw new CorruptEncodingException(
          "trailing " + (input.length - position) + " bytes after position " + position);
    }
  }

  private void need(int bytes) {
    if (bytes > input.length - position) {
      throw new CorruptEncodingException(
          "truncated: need " + bytes + " bytes at " + position + ", have " + remaining());
    }
  }
}
