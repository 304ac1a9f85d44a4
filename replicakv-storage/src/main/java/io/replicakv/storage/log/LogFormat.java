package io.replicakv.storage.log;

import io.replicakv.storage.SequenceFileNames;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.zip.CRC32C;

/**
 * The on-disk layout of log segments. All integers are big-endian.
 *
 * <pre>
 * segment  = header record*
 * header   = [u32 magic "RKVL"][u8 version][3 bytes zero][u64 firstSequence][u32 CRC32C of the 16
 *            bytes before it]                                                   (20 bytes)
 * record   = [u32 length][u32 CRC32C over the rest][u64 sequence][u32 partition][payload]
 *            where length counts the bytes after the CRC field: 12 + payload length
 * </pre>
 *
 * <p>The file name is the header's first sequence as 20 zero-padded digits plus {@code .log}, so
 * lexical order is sequence order. A corrupted length field is caught either by the bounds ({@code
 * 12 <= length <= 12 + PAYLOAD_MAX_BYTES}, inside the file) or because the CRC is then computed
 * over the wrong range; a torn record is caught because its bytes run past the end of the file.
 */
final class LogFormat {
  private LogFormat() {}

  static final int MAGIC = 0x524B564C; // "RKVL"
  static final byte VERSION = 1;
  static final int HEADER_BYTES = 20;

  /** Bytes of a record before its payload: length, CRC, sequence, partition. */
  static final int RECORD_OVERHEAD_BYTES = 20;

  /** Bytes covered by the length field besides the payload: sequence and partition. */
  static final int LENGTH_FIXED_BYTES = 12;

  /**
   * Largest payload accepted by append. Recovery treats larger lengths as corruption, so this bound
   * also limits what a flipped length field can make the reader allocate.
   */
  static final int PAYLOAD_MAX_BYTES = 64 << 20;

  static final String SUFFIX = ".log";

  static String fileName(long firstSequence) {
    return SequenceFileNames.format(firstSequence, SUFFIX);
  }

  /** The first sequence encoded in a segment file name, or empty for files that are not ours. */
  static OptionalLong parseFileName(Path file) {
    return SequenceFileNames.parse(file, SUFFIX);
  }

  static ByteBuffer header(long firstSequence) {
    ByteBuffer buffer = ByteBuffer.allocate(HEADER_BYTES);
    buffer.putInt(MAGIC).put(VERSION).put((byte) 0).put((byte) 0).put((byte) 0);
    buffer.putLong(firstSequence);
    CRC32C crc = new CRC32C();
    crc.update(buffer.array(), 0, 16);
    buffer.putInt((int) crc.getValue());
    return buffer.flip();
  }

  /**
   * Checks a header read from disk.
   *
   * @return null when valid, else the reason it is not
   */
  static String checkHeader(byte[] bytes, long expectedFirstSequence) {
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, 16);
    int magic = buffer.getInt(0);
    byte version = buffer.get(4);
    long firstSequence = buffer.getLong(8);
    int storedCrc = buffer.getInt(16);
    if (magic != MAGIC) {
      return String.format("bad segment magic 0x%08x", magic);
    }
    if (storedCrc != (int) crc.getValue()) {
      return "segment header checksum mismatch";
    }
    if (version != VERSION) {
      return "unsupported segment format version " + version;
    }
    if (firstSequence != expectedFirstSequence) {
      return "header first sequence " + firstSequence + " != file name " + expectedFirstSequence;
    }
    return null;
  }

  static int recordBytes(int payloadLength) {
    return RECORD_OVERHEAD_BYTES + payloadLength;
  }

  /** Appends one encoded record to {@code out}, which must have room for it. */
  static void encode(ByteBuffer out, long sequence, int partition, byte[] payload) {
    encode(out, sequence, partition, payload, new CRC32C());
  }

  /**
   * Appends one encoded record to {@code out}, reusing {@code crc} (reset here): the append path
   * runs once per write command, so it allocates neither a checksum nor a buffer view. A heap
   * {@code out} is checksummed straight from its array.
   */
  static void encode(ByteBuffer out, long sequence, int partition, byte[] payload, CRC32C crc) {
    int start = out.position();
    out.putInt(LENGTH_FIXED_BYTES + payload.length);
    out.putInt(0); // CRC placeholder, filled below once the covered bytes are in place
    out.putLong(sequence).putInt(partition).put(payload);
    crc.reset();
    if (out.hasArray()) {
      crc.update(out.array(), out.arrayOffset() + start + 8, out.position() - start - 8);
    } else {
      crc.update(out.duplicate().position(start + 8).limit(out.position()));
    }
    out.putInt(start + 4, (int) crc.getValue());
  }

  /** CRC32C over a record's sequence, partition and payload, as stored in its CRC field. */
  static int checksum(long sequence, int partition, byte[] payload) {
    CRC32C crc = new CRC32C();
    ByteBuffer fixed = ByteBuffer.allocate(LENGTH_FIXED_BYTES);
    fixed.putLong(sequence).putInt(partition).flip();
    crc.update(fixed);
    crc.update(payload, 0, payload.length);
    return (int) crc.getValue();
  }
}
