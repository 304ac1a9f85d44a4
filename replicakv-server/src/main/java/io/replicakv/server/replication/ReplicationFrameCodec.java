package io.replicakv.server.replication;

import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.msg.SingleLeaderMessage.Append;
import io.replicakv.core.msg.SingleLeaderMessage.AppendAck;
import io.replicakv.core.msg.SingleLeaderMessage.Drain;
import io.replicakv.core.msg.SingleLeaderMessage.Drained;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.msg.SingleLeaderMessage.EpochAnswer;
import io.replicakv.core.msg.SingleLeaderMessage.EpochQuery;
import io.replicakv.core.msg.SingleLeaderMessage.Fence;
import io.replicakv.core.msg.SingleLeaderMessage.FenceAck;
import io.replicakv.core.msg.SingleLeaderMessage.Heartbeat;
import io.replicakv.core.msg.SingleLeaderMessage.Leadership;
import io.replicakv.core.msg.SingleLeaderMessage.SnapshotNeeded;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.CorruptEncodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The binary frame that carries single-leader messages between two nodes. Partitions are many
 * (tokens times keyspaces) and their traffic is small, so one frame batches the messages of every
 * partition a node has for one peer in one loop turn, the way Kafka batches partitions in one fetch
 * response.
 *
 * <pre>
 * frame    = [u8 version = 1][varint count] message{count}
 * message  = [u16 keyspace][u32 partition][u8 type] body
 * entry    = [varint epoch][varint offset][u8 kind: 0 marker, 1 put, 2 write] operation
 *            put = [bytes key][bytes value]   write = [bytes key][bytes payload]
 * lsn      = [varint epoch][varint offset]
 * node id  = [u32], -1 allowed where the message allows it (no leader)
 * </pre>
 *
 * Bodies follow the fields of each {@code SingleLeaderMessage} record in declaration order: varints
 * for counters that are never negative, fixed 8-byte longs for the tick and incarnation fields a
 * grant may set to -1. A frame is at most {@link #FRAME_BYTES_MAX} bytes and {@link
 * #MESSAGES_PER_FRAME_MAX} messages; the decoder checks every count and length against its bound
 * and against the bytes that remain before it allocates, so a corrupt or hostile frame costs at
 * most its own size. Every decoding failure, including a field the message constructor refuses, is
 * a {@link CorruptEncodingException}: the connection that sent it is closed, the node keeps
 * running.
 *
 * <p>Versioning: a node reads the versions it knows and refuses others with the version in the
 * message; a later format bumps the version byte, and a rolling upgrade sends the older version
 * until every peer announces the newer one (the peer handshake carries the highest version a node
 * reads).
 */
public final class ReplicationFrameCodec {
  /** The only format version this codec writes and reads. */
  public static final int VERSION = 1;

  /** Largest encoded frame, in bytes; the sender splits its batch to stay below it. */
  public static final int FRAME_BYTES_MAX = 16 << 20;

  /** Messages one frame may carry. */
  public static final int MESSAGES_PER_FRAME_MAX = 65_536;

  /** Longest key accepted from a peer, in UTF-8 bytes (a UTF-16 char takes at most 3). */
  static final int KEY_BYTES_MAX = 3 * Operation.KEY_CHARS_MAX;

  /** Longest register value accepted from a peer, in bytes. */
  static final int VALUE_BYTES_MAX = Operation.PAYLOAD_BYTES_MAX;

  private static final int APPEND = 1;
  private static final int APPEND_ACK = 2;
  private static final int EPOCH_QUERY = 3;
  private static final int EPOCH_ANSWER = 4;
  private static final int HEARTBEAT = 5;
  private static final int LEADERSHIP = 6;
  private static final int FENCE = 7;
  private static final int FENCE_ACK = 8;
  private static final int DRAIN = 9;
  private static final int DRAINED = 10;
  private static final int SNAPSHOT_NEEDED = 11;

  private static final int ENTRY_MARKER = 0;
  private static final int ENTRY_PUT = 1;
  private static final int ENTRY_WRITE = 2;

  private ReplicationFrameCodec() {}

  /**
   * Encodes {@code messages} as one frame.
   *
   * @throws IllegalArgumentException when there are more than {@link #MESSAGES_PER_FRAME_MAX}
   *     messages or the frame would exceed {@link #FRAME_BYTES_MAX}
   */
  public static byte[] encode(List<PartitionMessage> messages) {
    return BatchFrame.encode(
        VERSION,
        MESSAGES_PER_FRAME_MAX,
        FRAME_BYTES_MAX,
        messages,
        (out, message) -> {
          out.writeByte(message.keyspace() >>> 8).writeByte(message.keyspace());
          out.writeInt(message.partition());
          writeMessage(out, message.message());
        });
  }

  /**
   * Decodes one frame.
   *
   * @throws CorruptEncodingException for any input that {@link #encode} did not produce
   */
  public static List<PartitionMessage> decode(byte[] frame) {
    return BatchFrame.decode(
        "replication frame",
        VERSION,
        MESSAGES_PER_FRAME_MAX,
        FRAME_BYTES_MAX,
        frame,
        in -> {
          int keyspace = (in.readByte() << 8) | in.readByte();
          int partition = in.readInt();
          if (partition < 0) {
            throw new CorruptEncodingException("partition id " + partition + " negative");
          }
          return new PartitionMessage(keyspace, partition, readMessage(in));
        });
  }

  private static void writeMessage(ByteWriter out, SingleLeaderMessage message) {
    switch (message) {
      case Append m -> {
        header(out, APPEND, m.from(), m.to(), m.epoch());
        writeLsn(out, m.previous());
        out.writeVarInt(m.entries().size());
        for (Entry entry : m.entries()) {
          writeEntry(out, entry);
        }
        out.writeVarLong(m.commitOffset());
      }
      case AppendAck m -> {
        header(out, APPEND_ACK, m.from(), m.to(), m.epoch());
        out.writeVarLong(m.matchOffset()).writeBoolean(m.accepted());
      }
      case EpochQuery m -> {
        header(out, EPOCH_QUERY, m.from(), m.to(), m.epoch());
        out.writeVarLong(m.lastEpoch());
      }
      case EpochAnswer m -> {
        header(out, EPOCH_ANSWER, m.from(), m.to(), m.epoch());
        out.writeVarLong(m.queriedEpoch());
        writeLsn(out, m.end());
      }
      case Heartbeat m -> {
        header(out, HEARTBEAT, m.from(), m.to(), m.epoch());
        writeLsn(out, m.lastLsn());
        out.writeBoolean(m.leading()).writeLong(m.senderIncarnation()).writeLong(m.senderTick());
      }
      case Leadership m -> {
        header(out, LEADERSHIP, m.from(), m.to(), m.epoch());
        out.writeInt(m.leader()).writeLong(m.leaseIncarnation()).writeLong(m.leaseFromTick());
      }
      case Fence m -> header(out, FENCE, m.from(), m.to(), m.epoch());
      case FenceAck m -> {
        header(out, FENCE_ACK, m.from(), m.to(), m.epoch());
        writeLsn(out, m.lastLsn());
      }
      case Drain m -> {
        header(out, DRAIN, m.from(), m.to(), m.epoch());
        out.writeInt(m.target());
      }
      case Drained m -> {
        header(out, DRAINED, m.from(), m.to(), m.epoch());
        out.writeInt(m.target());
        writeLsn(out, m.end());
      }
      case SnapshotNeeded m -> {
        header(out, SNAPSHOT_NEEDED, m.from(), m.to(), m.epoch());
        out.writeVarLong(m.firstOffset()).writeVarLong(m.historyStartEpoch());
      }
    }
  }

  private static SingleLeaderMessage readMessage(ByteReader in) {
    int type = in.readByte();
    int from = in.readInt();
    int to = in.readInt();
    long epoch = in.readVarLong();
    return switch (type) {
      case APPEND -> {
        Lsn previous = readLsn(in);
        int count = in.readCount(SingleLeaderMessage.ENTRIES_PER_APPEND_MAX);
        List<Entry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          entries.add(readEntry(in));
        }
        yield new Append(from, to, epoch, previous, entries, in.readVarLong());
      }
      case APPEND_ACK -> new AppendAck(from, to, epoch, in.readVarLong(), in.readBoolean());
      case EPOCH_QUERY -> new EpochQuery(from, to, epoch, in.readVarLong());
      case EPOCH_ANSWER -> new EpochAnswer(from, to, epoch, in.readVarLong(), readLsn(in));
      case HEARTBEAT ->
          new Heartbeat(
              from, to, epoch, readLsn(in), in.readBoolean(), in.readLong(), in.readLong());
      case LEADERSHIP ->
          new Leadership(from, to, epoch, in.readInt(), in.readLong(), in.readLong());
      case FENCE -> new Fence(from, to, epoch);
      case FENCE_ACK -> new FenceAck(from, to, epoch, readLsn(in));
      case DRAIN -> new Drain(from, to, epoch, in.readInt());
      case DRAINED -> new Drained(from, to, epoch, in.readInt(), readLsn(in));
      case SNAPSHOT_NEEDED ->
          new SnapshotNeeded(from, to, epoch, in.readVarLong(), in.readVarLong());
      default -> throw new CorruptEncodingException("unknown single-leader message type " + type);
    };
  }

  private static void header(ByteWriter out, int type, int from, int to, long epoch) {
    out.writeByte(type).writeInt(from).writeInt(to).writeVarLong(epoch);
  }

  private static void writeLsn(ByteWriter out, Lsn lsn) {
    out.writeVarLong(lsn.epoch()).writeVarLong(lsn.offset());
  }

  private static Lsn readLsn(ByteReader in) {
    return new Lsn(in.readVarLong(), in.readVarLong());
  }

  private static void writeEntry(ByteWriter out, Entry entry) {
    out.writeVarLong(entry.epoch()).writeVarLong(entry.offset());
    switch (entry.operation()) {
      case null -> out.writeByte(ENTRY_MARKER);
      case Operation.Put put ->
          out.writeByte(ENTRY_PUT).writeString(put.key()).writeString(put.value());
      case Operation.Write write ->
          out.writeByte(ENTRY_WRITE).writeString(write.key()).writeBytes(write.payload());
    }
  }

  private static Entry readEntry(ByteReader in) {
    long epoch = in.readVarLong();
    long offset = in.readVarLong();
    int kind = in.readByte();
    Operation.Mutation operation =
        switch (kind) {
          case ENTRY_MARKER -> null;
          case ENTRY_PUT -> new Operation.Put(readKey(in), in.readString(VALUE_BYTES_MAX));
          case ENTRY_WRITE ->
              new Operation.Write(readKey(in), in.readBytes(Operation.PAYLOAD_BYTES_MAX));
          default -> throw new CorruptEncodingException("unknown entry kind " + kind);
        };
    return new Entry(epoch, offset, operation);
  }

  private static String readKey(ByteReader in) {
    return new String(in.readBytes(KEY_BYTES_MAX), StandardCharsets.UTF_8);
  }
}
