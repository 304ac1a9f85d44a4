package io.replicakv.server.replication.snapshot;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.ArrayList;
import java.util.List;

/**
 * The binary form of {@link SnapshotFrame}, the payload of peer frames of type {@value
 * #FRAME_TYPE}.
 *
 * <pre>
 * frame  = [u8 version = 1][u8 kind][u16 keyspace][u32 partition][u64 transferId] body
 * begin  = [varint epoch][u32 leader][varint lsn epoch][varint lsn offset][varint keysTotalAtMost]
 * chunk  = [varint sequence][varint count]([bytes entry]){count}
 * end    = [varint sequence][varint keys][varint bytes]
 * ack    = [varint sequence][bytes refusal, UTF-8, empty when accepted]
 * </pre>
 *
 * A frame is at most {@link #FRAME_BYTES_MAX} bytes (it must fit a peer frame), a chunk at most
 * {@link #ENTRIES_PER_CHUNK_MAX} entries, an entry at most {@link #ENTRY_BYTES_MAX}; the decoder
 * checks each count and length against its bound and against the bytes left before it allocates.
 * Every malformed input, including a field a record refuses, is a {@link CorruptEncodingException},
 * never another exception. A later format bumps the version byte; this one refuses any other.
 */
public final class SnapshotFrameCodec {
  /** Peer frame type of snapshot frames and their acks (reserved for partition snapshots). */
  public static final int FRAME_TYPE = 27;

  /** The format version written and read. */
  public static final int VERSION = 1;

  /** Largest encoded frame: a peer frame holds 16 MiB with its header; this leaves room. */
  public static final int FRAME_BYTES_MAX = (16 << 20) - 4096;

  /** Largest single entry (one key with its whole value); a larger key cannot be shipped. */
  public static final int ENTRY_BYTES_MAX = FRAME_BYTES_MAX - 1024;

  /** Entries one chunk may carry. */
  public static final int ENTRIES_PER_CHUNK_MAX = 65_536;

  /** Longest refusal reason in an Ack, in chars (UTF-8 may take 3 bytes per char). */
  public static final int REFUSAL_CHARS_MAX = 1024;

  /** Largest keyspace number (u16). */
  public static final int KEYSPACE_MAX = 0xFFFF;

  private static final int BEGIN = 1;
  private static final int CHUNK = 2;
  private static final int END = 3;
  private static final int ACK = 4;

  private SnapshotFrameCodec() {}

  /**
   * Encodes {@code frame}.
   *
   * @throws IllegalArgumentException when it would exceed {@link #FRAME_BYTES_MAX}
   */
  public static byte[] encode(SnapshotFrame frame) {
    ByteWriter out = new ByteWriter(sizeHint(frame)).writeByte(VERSION);
    int kind =
        switch (frame) {
          case SnapshotFrame.Begin b -> BEGIN;
          case SnapshotFrame.Chunk c -> CHUNK;
          case SnapshotFrame.End e -> END;
          case SnapshotFrame.Ack a -> ACK;
        };
    out.writeByte(kind);
    out.writeByte(frame.keyspace() >>> 8).writeByte(frame.keyspace());
    out.writeInt(frame.partition()).writeLong(frame.transferId());
    switch (frame) {
      case SnapshotFrame.Begin b ->
          out.writeVarLong(b.epoch())
              .writeInt(b.leader())
              .writeVarLong(b.lsn().epoch())
              .writeVarLong(b.lsn().offset())
              .writeVarLong(b.keysTotalAtMost());
      case SnapshotFrame.Chunk c -> {
        out.writeVarLong(c.sequence()).writeVarInt(c.entries().size());
        for (byte[] entry : c.entries()) {
          Check.argument(
              entry.length <= ENTRY_BYTES_MAX,
              "entry of %s bytes over %s",
              entry.length,
              ENTRY_BYTES_MAX);
          out.writeBytes(entry);
        }
      }
      case SnapshotFrame.End e ->
          out.writeVarLong(e.sequence()).writeVarLong(e.keys()).writeVarLong(e.bytes());
      case SnapshotFrame.Ack a -> out.writeVarLong(a.sequence()).writeString(a.refusal());
    }
    byte[] encoded = out.toByteArray();
    Check.argument(
        encoded.length <= FRAME_BYTES_MAX,
        "snapshot frame of %s bytes over %s",
        encoded.length,
        FRAME_BYTES_MAX);
    return encoded;
  }

  /** Bytes {@code frame} encodes to, or a little more; saves the writer's regrowth copies. */
  private static int sizeHint(SnapshotFrame frame) {
    long bytes = 64;
    if (frame instanceof SnapshotFrame.Chunk chunk) {
      for (byte[] entry : chunk.entries()) {
        bytes += entry.length + 5;
      }
    } else if (frame instanceof SnapshotFrame.Ack ack) {
      bytes += 3L * ack.refusal().length();
    }
    return (int) Math.min(bytes, FRAME_BYTES_MAX);
  }

  /**
   * Decodes one frame.
   *
   * @throws CorruptEncodingException for any input {@link #encode} did not produce
   */
  public static SnapshotFrame decode(byte[] frame) {
    if (frame.length > FRAME_BYTES_MAX) {
      throw new CorruptEncodingException(
          "snapshot frame of " + frame.length + " bytes over " + FRAME_BYTES_MAX);
    }
    ByteReader in = ByteReader.open(frame, VERSION, "snapshot frame");
    try {
      int kind = in.readByte();
      int keyspace = (in.readByte() << 8) | in.readByte();
      int partition = in.readInt();
      long transferId = in.readLong();
      SnapshotFrame decoded =
          switch (kind) {
            case BEGIN ->
                new SnapshotFrame.Begin(
                    keyspace,
                    partition,
                    transferId,
                    in.readVarLong(),
                    in.readInt(),
                    new Lsn(in.readVarLong(), in.readVarLong()),
                    in.readVarLong());
            case CHUNK -> {
              long sequence = in.readVarLong();
              int count = in.readCount(ENTRIES_PER_CHUNK_MAX);
              List<byte[]> entries = new ArrayList<>(count);
              for (int i = 0; i < count; i++) {
                entries.add(in.readBytes(ENTRY_BYTES_MAX));
              }
              yield new SnapshotFrame.Chunk(keyspace, partition, transferId, sequence, entries);
            }
            case END ->
                new SnapshotFrame.End(
                    keyspace,
                    partition,
                    transferId,
                    in.readVarLong(),
                    in.readVarLong(),
                    in.readVarLong());
            case ACK ->
                new SnapshotFrame.Ack(
                    keyspace,
                    partition,
                    transferId,
                    in.readVarLong(),
                    in.readString(3 * REFUSAL_CHARS_MAX));
            default -> throw new CorruptEncodingException("unknown snapshot frame kind " + kind);
          };
      in.finish();
      return decoded;
    } catch (IllegalArgumentException | IllegalStateException | NullPointerException e) {
      // a field a record refuses (an epoch below 1, a negative partition, ...)
      throw new CorruptEncodingException("snapshot frame: " + e.getMessage());
    }
  }
}
