package io.replicakv.core.util;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable byte buffer for the compact binary forms of the core data types.
 *
 * <p>Integers that are usually small (counters, lengths) use unsigned LEB128 varints so that a
 * version vector of three replicas costs a few dozen bytes; fixed-width big-endian is used where
 * the value is usually large (HLC physical milliseconds). Strings are UTF-8 with a varint length.
 * The matching reader is {@link ByteReader}, which bounds every length it reads.
 */
public final class ByteWriter {
  private static final int INITIAL_CAPACITY_BYTES = 32;

  private byte[] buffer;
  private int sizeBytes;

  /** An empty writer that grows as needed. */
  public ByteWriter() {
    this(INITIAL_CAPACITY_BYTES);
  }

  /** An empty writer with room for {@code capacityBytes} before it grows (a size hint). */
  public ByteWriter(int capacityBytes) {
    Check.argument(capacityBytes >= 0, "capacityBytes %s negative", capacityBytes);
    buffer = new byte[capacityBytes];
  }

  /** Appends one byte (the low 8 bits of {@code value}). */
  public ByteWriter writeByte(int value) {
    ensure(1);
    buffer[sizeBytes++] = (byte) value;
    return this;
  }

  /** Appends a boolean as one byte, 0 or 1. */
  public ByteWriter writeBoolean(boolean value) {
    return writeByte(value ? 1 : 0);
  }

  /** Appends a big-endian 32-bit integer. */
  public ByteWriter writeInt(int value) {
    ensure(4);
    for (int shift = 24; shift >= 0; shift -= 8) {
      buffer[sizeBytes++] = (byte) (value >>> shift);
    }
    return this;
  }

  /** Appends a big-endian 64-bit integer. */
  public ByteWriter writeLong(long value) {
    ensure(8);
    for (int shift = 56; shift >= 0; shift -= 8) {
      buffer[sizeBytes++] = (byte) (value >>> shift);
    }
    return this;
  }

  /** Appends a non-negative long as an unsigned LEB128 varint (1 to 9 bytes for our range). */
  public ByteWriter writeVarLong(long value) {
    Check.argument(value >= 0, "varint must be non-negative, got %s", value);
    long rest = value;
    while ((rest & ~0x7FL) != 0) {
      writeByte((int) ((rest & 0x7F) | 0x80));
      rest >>>= 7;
    }
    return writeByte((int) rest);
  }

  /** Appends a non-negative int as a varint. */
  public ByteWriter writeVarInt(int value) {
    return writeVarLong(value);
  }

  /** Appends a byte array prefixed by its varint length. */
  public ByteWriter writeBytes(byte[] value) {
    writeVarInt(value.length);
    ensure(value.length);
    System.arraycopy(value, 0, buffer, sizeBytes, value.length);
    sizeBytes += value.length;
    return this;
  }

  /** Appends a string as UTF-8 prefixed by its varint length in bytes. */
  public ByteWriter writeString(String value) {
    return writeBytes(value.getBytes(StandardCharsets.UTF_8));
  }

  /** Returns a copy of the bytes written so far. */
  public byte[] toByteArray() {
    return Arrays.copyOf(buffer, sizeBytes);
  }

  private void ensure(int moreBytes) {
    if (sizeBytes + moreBytes > buffer.length) {
      int wanted = Math.max(buffer.length * 2, sizeBytes + moreBytes);
      buffer = Arrays.copyOf(buffer, wanted);
    }
  }
}
