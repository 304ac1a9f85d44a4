package io.replicakv.storage.partition;

import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.storage.data.MutationCodec;
import java.nio.ByteBuffer;

/**
 * Payload layouts of the single-leader partition records in the shared log. The log record header
 * is unchanged ({@code LogFormat}: length, CRC32C, sequence, u32 partition tag); what marks a
 * partition record is the first payload byte:
 *
 * <pre>
 * entry     = [u8 0xE1][u64 epoch][u64 offset][body]     body: the entry's opaque bytes
 * truncate  = [u8 0xE2][u64 afterOffset]                  entries after it are divergent
 * start     = [u8 0xE4][u64 epoch][u64 offset]           a partition snapshot at that LSN was
 *                                                        installed: every earlier entry is void and
 *                                                        the log continues after it
 * </pre>
 *
 * (0xE3 is left for the replica's other records, which the server stores as opaque payloads.)
 *
 * <p>Every payload written before partition records existed is a {@link MutationCodec} record,
 * whose first byte is its format version ({@value MutationCodec#FORMAT_VERSION}), so old logs read
 * unchanged and a reader tells the two kinds apart by that byte alone. The u32 tag of a partition
 * record names the partition (the server uses {@code keyspace << 16 | partition id}); node-local
 * records keep tag 0.
 */
public final class PartitionRecordFormat {
  /** First byte of a partition entry. */
  public static final int ENTRY = 0xE1;

  /** First byte of a partition truncation. */
  public static final int TRUNCATE = 0xE2;

  /** First byte of a restart after an installed partition snapshot. */
  public static final int START_AFTER = 0xE4;

  /** Bytes of an entry record before its body. */
  public static final int ENTRY_HEADER_BYTES = 17;

  static {
    // The two kinds must never be mistaken for one another.
    if (MutationCodec.FORMAT_VERSION == ENTRY
        || MutationCodec.FORMAT_VERSION == TRUNCATE
        || MutationCodec.FORMAT_VERSION == START_AFTER) {
      throw new ExceptionInInitializerError("mutation format version collides");
    }
  }

  private PartitionRecordFormat() {}

  /** True when {@code payload} is a partition entry, truncation or restart, not a mutation. */
  public static boolean isPartitionRecord(byte[] payload) {
    if (payload.length == 0) {
      return false;
    }
    int kind = payload[0] & 0xFF;
    return kind == ENTRY || kind == TRUNCATE || kind == START_AFTER;
  }

  static byte[] entry(long epoch, long offset, byte[] body) {
    return ByteBuffer.allocate(ENTRY_HEADER_BYTES + body.length)
        .put((byte) ENTRY)
        .putLong(epoch)
        .putLong(offset)
        .put(body)
        .array();
  }

  static byte[] truncate(long afterOffset) {
    return ByteBuffer.allocate(9).put((byte) TRUNCATE).putLong(afterOffset).array();
  }

  static byte[] startAfter(long epoch, long offset) {
    return ByteBuffer.allocate(17).put((byte) START_AFTER).putLong(epoch).putLong(offset).array();
  }

  /**
   * A decoded partition record: an entry (body non-null), a truncation ({@code offset} is the cut)
   * or a restart after a snapshot at {@code (epoch, offset)}.
   */
  record Decoded(int kind, long epoch, long offset, byte[] body) {
    static Decoded entry(long epoch, long offset, byte[] body) {
      return new Decoded(ENTRY, epoch, offset, body);
    }

    static Decoded truncation(long afterOffset) {
      return new Decoded(TRUNCATE, 0, afterOffset, null);
    }

    boolean isTruncate() {
      return kind == TRUNCATE;
    }

    boolean isStartAfter() {
      return kind == START_AFTER;
    }

    boolean isEntry() {
      return kind == ENTRY;
    }
  }

  static Decoded decode(byte[] payload) {
    if (payload.length == 0) {
      throw new CorruptEncodingException("empty partition record");
    }
    ByteBuffer in = ByteBuffer.wrap(payload);
    int kind = in.get() & 0xFF;
    if (kind == TRUNCATE) {
      if (payload.length != 9) {
        throw new CorruptEncodingException("truncate record of " + payload.length + " bytes");
      }
      long after = in.getLong();
      if (after < 0) {
        throw new CorruptEncodingException("truncate after " + after);
      }
      return Decoded.truncation(after);
    }
    if (kind == START_AFTER) {
      if (payload.length != 17) {
        throw new CorruptEncodingException("start-after record of " + payload.length + " bytes");
      }
      long epoch = in.getLong();
      long offset = in.getLong();
      if (epoch < 0 || offset < 0) {
        throw new CorruptEncodingException("start after " + epoch + ":" + offset);
      }
      return new Decoded(START_AFTER, epoch, offset, null);
    }
    if (kind != ENTRY || payload.length < ENTRY_HEADER_BYTES) {
      throw new CorruptEncodingException(
          "not a partition entry: kind " + kind + ", " + payload.length + " bytes");
    }
    long epoch = in.getLong();
    long offset = in.getLong();
    if (epoch < 1 || offset < 1) {
      throw new CorruptEncodingException("entry at " + epoch + ":" + offset);
    }
    byte[] body = new byte[in.remaining()];
    in.get(body);
    return Decoded.entry(epoch, offset, body);
  }
}
