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
 * </pre>
 *
 * Every payload written before partition records existed is a {@link MutationCodec} record, whose
 * first byte is its format version ({@value MutationCodec#FORMAT_VERSION}), so old logs read
 * unchanged and a reader tells the two kinds apart by that byte alone. The u32 tag of a partition
 * record names the partition (the server uses {@code keyspace << 16 | partition id}); node-local
 * records keep tag 0.
 */
public final class PartitionRecordFormat {
  /** First byte of a partition entry. */
  public static final int ENTRY = 0xE1;

  /** First byte of a partition truncation. */
  public static final int TRUNCATE = 0xE2;

  /** Bytes of an entry record before its body. */
  public static final int ENTRY_HEADER_BYTES = 17;

  static {
    // The two kinds must never be mistaken for one another.
    if (MutationCodec.FORMAT_VERSION == ENTRY || MutationCodec.FORMAT_VERSION == TRUNCATE) {
      throw new ExceptionInInitializerError("mutation format version collides");
    }
  }

  private PartitionRecordFormat() {}

  /** True when {@code payload} is a partition entry or truncation rather than a mutation. */
  public static boolean isPartitionRecord(byte[] payload) {
    return payload.length > 0 && ((payload[0] & 0xFF) == ENTRY || (payload[0] & 0xFF) == TRUNCATE);
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

  /** A decoded partition record: an entry (body non-null) or a truncation (body null). */
  record Decoded(long epoch, long offset, byte[] body) {
    boolean isTruncate() {
      return body == null;
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
      return new Decoded(0, after, null);
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
    return new Decoded(epoch, offset, body);
  }
}
