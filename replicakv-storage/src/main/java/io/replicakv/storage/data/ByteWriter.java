package io.replicakv.storage.data;

import io.replicakv.core.util.Check;
import java.util.List;

/**
 * Writes the binary forms of {@link MutationCodec} and {@link MemoryState#encodeEntry} into an
 * array sized exactly in advance, so encoding allocates once. Integers are unsigned LEB128 varints;
 * byte strings are a varint length followed by the bytes.
 */
final class ByteWriter {
  private final byte[] buffer;
  private int position;

  ByteWriter(int sizeBytes) {
    this.buffer = new byte[sizeBytes];
  }

  static int varLongSize(long value) {
    int bits = 64 - Long.numberOfLeadingZeros(value | 1);
    return (bits + 6) / 7;
  }

  static int byteStringSize(byte[] bytes) {
    return varLongSize(bytes.length) + bytes.length;
  }

  /** Size of a count followed by that many byte strings. */
  static int byteStringListSize(List<byte[]> elements) {
    int total = varLongSize(elements.size());
    for (byte[] element : elements) {
      total = Math.addExact(total, byteStringSize(element));
    }
    return total;
  }

  void writeByte(int value) {
    buffer[position++] = (byte) value;
  }

  void writeVarLong(long value) {
    long v = value;
    while ((v & ~0x7FL) != 0) {
      buffer[position++] = (byte) ((v & 0x7F) | 0x80);
      v >>>= 7;
    }
    buffer[position++] = (byte) v;
  }

  void writeByteString(byte[] bytes) {
    writeVarLong(bytes.length);
    System.arraycopy(bytes, 0, buffer, position, bytes.length);
    position += bytes.length;
  }

  void writeByteStringList(List<byte[]> elements) {
    writeVarLong(elements.size());
    for (byte[] element : elements) {
      writeByteString(element);
    }
  }

  byte[] finish() {
    Check.state(position == buffer.length, "encoded %s bytes, sized %s", position, buffer.length);
    return buffer;
  }
}
