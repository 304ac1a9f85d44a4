package io.replicakv.server.leaderless;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.msg.LeaderlessMessage;
import io.replicakv.core.msg.LeaderlessMessage.CoordinatePut;
import io.replicakv.core.msg.LeaderlessMessage.CoordinatePutAck;
import io.replicakv.core.msg.LeaderlessMessage.Handoff;
import io.replicakv.core.msg.LeaderlessMessage.HandoffAck;
import io.replicakv.core.msg.LeaderlessMessage.KeyDigests;
import io.replicakv.core.msg.LeaderlessMessage.KeyStates;
import io.replicakv.core.msg.LeaderlessMessage.Ping;
import io.replicakv.core.msg.LeaderlessMessage.Pong;
import io.replicakv.core.msg.LeaderlessMessage.Read;
import io.replicakv.core.msg.LeaderlessMessage.ReadReply;
import io.replicakv.core.msg.LeaderlessMessage.Replicate;
import io.replicakv.core.msg.LeaderlessMessage.ReplicateAck;
import io.replicakv.core.msg.LeaderlessMessage.TombstoneCheck;
import io.replicakv.core.msg.LeaderlessMessage.TombstoneCheckAck;
import io.replicakv.core.msg.LeaderlessMessage.TombstoneDrop;
import io.replicakv.core.msg.LeaderlessMessage.TreeLevel;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.server.replication.BatchFrame;
import java.util.ArrayList;
import java.util.List;

/**
 * The binary frame that carries leaderless (Dynamo-style) messages between two nodes. One frame
 * batches every message a node has for one peer in one loop turn, each tagged with the keyspace
 * whose {@code LeaderlessNode} sent it, as the single-leader frame batches partitions.
 *
 * <pre>
 * frame    = [u8 version = 1][varint count] message{count}
 * message  = [u16 keyspace][u8 type][i32 from][i32 to] body
 * string   = [varint length][UTF-8 bytes]        (keys, refusals)
 * state    = [varint length][bytes]              (encoded KeyState or Write)
 * optional = [u8 0 absent | 1 present] value
 * list     = [varint count] item{count}
 * </pre>
 *
 * Bodies follow the fields of each {@code LeaderlessMessage} record in declaration order: {@code
 * requestId} is a fixed 8-byte long because {@link LeaderlessMessage#NO_ACK} is -1, {@code hintFor}
 * a fixed 4-byte int because {@link LeaderlessMessage#NO_HINT} is -1, digests and tree hashes fixed
 * 8-byte longs, partitions, levels and indexes varints. Keys are at most {@link #KEY_BYTES_MAX}
 * bytes, states at most {@link #STATE_BYTES_MAX}, lists at most {@link
 * LeaderlessMessage#ENTRIES_PER_MESSAGE_MAX} entries, a frame at most {@link #FRAME_BYTES_MAX}
 * bytes and {@link #MESSAGES_PER_FRAME_MAX} messages. The decoder checks every count and length
 * against its bound and the bytes remaining before it allocates, so a corrupt or hostile frame
 * costs at most its own size; every failure, including a field a record constructor refuses, is a
 * {@link CorruptEncodingException}.
 *
 * <p>Versioning: the leading byte names the format; a node refuses versions it does not know with
 * the version in the message, and a later format bumps it.
 */
public final class LeaderlessFrameCodec {
  /** The only format version this codec writes and reads. */
  public static final int VERSION = 1;

  /** Largest encoded frame, in bytes; the sender splits its batch to stay below it. */
  public static final int FRAME_BYTES_MAX = 32 << 20;

  /** Messages one frame may carry. */
  public static final int MESSAGES_PER_FRAME_MAX = 65_536;

  /** Largest key, in UTF-8 bytes (a key is at most {@link Operation#KEY_CHARS_MAX} chars). */
  static final int KEY_BYTES_MAX = 3 * Operation.KEY_CHARS_MAX;

  /** Largest encoded key state or write, in bytes. */
  static final int STATE_BYTES_MAX = 16 << 20;

  /** Largest refusal sentence, in bytes. */
  static final int REFUSAL_BYTES_MAX = 4_096;

  private static final int PING = 1;
  private static final int PONG = 2;
  private static final int COORDINATE_PUT = 3;
  private static final int COORDINATE_PUT_ACK = 4;
  private static final int REPLICATE = 5;
  private static final int REPLICATE_ACK = 6;
  private static final int READ = 7;
  private static final int READ_REPLY = 8;
  // 9 and 10 carried tree levels and leaf digests of the earlier fixed 256-leaf tree (leaf = low
  // hash bits); retired, since that tree's indexes mean other ranges: refused as unknown
  private static final int TREE_LEVEL = 17;
  private static final int KEY_DIGESTS = 18;
  private static final int KEY_STATES = 11;
  private static final int HANDOFF = 12;
  private static final int HANDOFF_ACK = 13;
  private static final int TOMBSTONE_CHECK = 14;
  private static final int TOMBSTONE_CHECK_ACK = 15;
  private static final int TOMBSTONE_DROP = 16;

  private LeaderlessFrameCodec() {}

  /** One message of a frame with the keyspace whose leaderless node sent it. */
  public record KeyspaceMessage(int keyspace, LeaderlessMessage message) {
    public KeyspaceMessage {
      Check.argument(keyspace >= 0 && keyspace <= 0xFFFF, "keyspace %s out of u16", keyspace);
      Check.notNull(message, "message");
    }
  }

  /**
   * Encodes {@code messages} as one frame.
   *
   * @throws IllegalArgumentException when the batch exceeds {@link #MESSAGES_PER_FRAME_MAX} or the
   *     frame {@link #FRAME_BYTES_MAX}
   */
  public static byte[] encode(List<KeyspaceMessage> messages) {
    return BatchFrame.encode(
        VERSION,
        MESSAGES_PER_FRAME_MAX,
        FRAME_BYTES_MAX,
        messages,
        (out, message) -> {
          out.writeByte(message.keyspace() >>> 8).writeByte(message.keyspace());
          writeMessage(out, message.message());
        });
  }

  /**
   * Decodes one frame.
   *
   * @throws CorruptEncodingException for any input that {@link #encode} did not produce
   */
  public static List<KeyspaceMessage> decode(byte[] frame) {
    return BatchFrame.decode(
        "leaderless frame",
        VERSION,
        MESSAGES_PER_FRAME_MAX,
        FRAME_BYTES_MAX,
        frame,
        in -> new KeyspaceMessage((in.readByte() << 8) | in.readByte(), readMessage(in)));
  }

  private static void writeMessage(ByteWriter out, LeaderlessMessage message) {
    switch (message) {
      case Ping m -> header(out, PING, m.from(), m.to());
      case Pong m -> header(out, PONG, m.from(), m.to());
      case CoordinatePut m -> {
        header(out, COORDINATE_PUT, m.from(), m.to());
        out.writeLong(m.requestId()).writeString(m.key());
        writeState(out, m.write());
        m.context().writeTo(out);
      }
      case CoordinatePutAck m -> {
        header(out, COORDINATE_PUT_ACK, m.from(), m.to());
        out.writeLong(m.requestId()).writeString(m.key());
        writeOptionalState(out, m.state());
        out.writeBoolean(m.refusal() != null);
        if (m.refusal() != null) {
          out.writeString(m.refusal());
        }
      }
      case Replicate m -> {
        header(out, REPLICATE, m.from(), m.to());
        out.writeLong(m.requestId()).writeString(m.key());
        writeState(out, m.state());
        out.writeInt(m.hintFor());
      }
      case ReplicateAck m -> {
        header(out, REPLICATE_ACK, m.from(), m.to());
        out.writeLong(m.requestId()).writeBoolean(m.accepted());
        writeOptionalState(out, m.merged());
      }
      case Read m -> {
        header(out, READ, m.from(), m.to());
        out.writeLong(m.requestId()).writeString(m.key()).writeInt(m.hintFor());
      }
      case ReadReply m -> {
        header(out, READ_REPLY, m.from(), m.to());
        out.writeLong(m.requestId()).writeString(m.key());
        writeOptionalState(out, m.state());
      }
      case TreeLevel m -> {
        header(out, TREE_LEVEL, m.from(), m.to());
        Check.argument(m.partition() >= 0 && m.level() >= 0, "negative partition or level");
        out.writeVarInt(m.partition()).writeVarInt(m.level());
        writeInts(out, m.nodeIndexes());
        writeLongs(out, m.hashes());
      }
      case KeyDigests m -> {
        header(out, KEY_DIGESTS, m.from(), m.to());
        out.writeVarInt(m.partition()).writeVarInt(m.level());
        writeInts(out, m.nodeIndexes());
        writeStrings(out, m.keys());
        writeLongs(out, m.digests());
      }
      case KeyStates m -> {
        header(out, KEY_STATES, m.from(), m.to());
        out.writeVarInt(m.partition());
        writeStrings(out, m.keys());
        writeStates(out, m.states());
        writeStrings(out, m.wanted());
      }
      case Handoff m -> {
        header(out, HANDOFF, m.from(), m.to());
        writeStrings(out, m.keys());
        writeStates(out, m.states());
      }
      case HandoffAck m -> {
        header(out, HANDOFF_ACK, m.from(), m.to());
        writeStrings(out, m.keys());
        writeLongs(out, m.digests());
      }
      case TombstoneCheck m -> {
        header(out, TOMBSTONE_CHECK, m.from(), m.to());
        out.writeLong(m.round()).writeString(m.key());
        writeState(out, m.state());
      }
      case TombstoneCheckAck m -> {
        header(out, TOMBSTONE_CHECK_ACK, m.from(), m.to());
        out.writeLong(m.round()).writeString(m.key()).writeBoolean(m.holds());
      }
      case TombstoneDrop m -> {
        header(out, TOMBSTONE_DROP, m.from(), m.to());
        out.writeString(m.key()).writeLong(m.digest());
      }
    }
  }

  private static LeaderlessMessage readMessage(ByteReader in) {
    int type = in.readByte();
    int from = in.readInt();
    int to = in.readInt();
    return switch (type) {
      case PING -> new Ping(from, to);
      case PONG -> new Pong(from, to);
      case COORDINATE_PUT ->
          new CoordinatePut(
              from, to, in.readLong(), readKey(in), readState(in), VersionVector.readFrom(in));
      case COORDINATE_PUT_ACK -> {
        long requestId = in.readLong();
        String key = readKey(in);
        Bytes state = readOptionalState(in);
        String refusal = in.readBoolean() ? in.readString(REFUSAL_BYTES_MAX) : null;
        yield new CoordinatePutAck(from, to, requestId, key, state, refusal);
      }
      case REPLICATE ->
          new Replicate(from, to, in.readLong(), readKey(in), readState(in), in.readInt());
      case REPLICATE_ACK ->
          new ReplicateAck(from, to, in.readLong(), in.readBoolean(), readOptionalState(in));
      case READ -> new Read(from, to, in.readLong(), readKey(in), in.readInt());
      case READ_REPLY -> new ReadReply(from, to, in.readLong(), readKey(in), readOptionalState(in));
      case TREE_LEVEL ->
          new TreeLevel(from, to, readIndex(in), readIndex(in), readInts(in), readLongs(in));
      case KEY_DIGESTS ->
          new KeyDigests(
              from, to, readIndex(in), readIndex(in), readInts(in), readStrings(in), readLongs(in));
      case KEY_STATES ->
          new KeyStates(from, to, readIndex(in), readStrings(in), readStates(in), readStrings(in));
      case HANDOFF -> new Handoff(from, to, readStrings(in), readStates(in));
      case HANDOFF_ACK -> new HandoffAck(from, to, readStrings(in), readLongs(in));
      case TOMBSTONE_CHECK ->
          new TombstoneCheck(from, to, in.readLong(), readKey(in), readState(in));
      case TOMBSTONE_CHECK_ACK ->
          new TombstoneCheckAck(from, to, in.readLong(), readKey(in), in.readBoolean());
      case TOMBSTONE_DROP -> new TombstoneDrop(from, to, readKey(in), in.readLong());
      default -> throw new CorruptEncodingException("leaderless frame: unknown type " + type);
    };
  }

  private static int readIndex(ByteReader in) {
    int value = in.readVarInt(Integer.MAX_VALUE);
    if (value < 0) {
      throw new CorruptEncodingException("leaderless frame: negative index " + value);
    }
    return value;
  }

  private static void header(ByteWriter out, int type, int from, int to) {
    out.writeByte(type).writeInt(from).writeInt(to);
  }

  private static void writeState(ByteWriter out, Bytes state) {
    Check.argument(
        state.sizeBytes() <= STATE_BYTES_MAX,
        "state of %s bytes over %s",
        state.sizeBytes(),
        STATE_BYTES_MAX);
    out.writeBytes(state.toByteArray());
  }

  private static Bytes readState(ByteReader in) {
    return Bytes.of(in.readBytes(STATE_BYTES_MAX));
  }

  private static void writeOptionalState(ByteWriter out, Bytes state) {
    out.writeBoolean(state != null);
    if (state != null) {
      writeState(out, state);
    }
  }

  private static Bytes readOptionalState(ByteReader in) {
    return in.readBoolean() ? readState(in) : null;
  }

  private static String readKey(ByteReader in) {
    return in.readString(KEY_BYTES_MAX);
  }

  private static void writeInts(ByteWriter out, List<Integer> values) {
    out.writeVarInt(values.size());
    for (int value : values) {
      Check.argument(value >= 0, "index %s negative", value);
      out.writeVarInt(value);
    }
  }

  private static List<Integer> readInts(ByteReader in) {
    int count = in.readCount(LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX);
    List<Integer> values = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      values.add(readIndex(in));
    }
    return values;
  }

  private static void writeLongs(ByteWriter out, List<Long> values) {
    out.writeVarInt(values.size());
    for (long value : values) {
      out.writeLong(value);
    }
  }

  private static List<Long> readLongs(ByteReader in) {
    int count = in.readCount(LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX);
    List<Long> values = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      values.add(in.readLong());
    }
    return values;
  }

  private static void writeStrings(ByteWriter out, List<String> values) {
    out.writeVarInt(values.size());
    for (String value : values) {
      out.writeString(value);
    }
  }

  private static List<String> readStrings(ByteReader in) {
    int count = in.readCount(LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX);
    List<String> values = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      values.add(readKey(in));
    }
    return values;
  }

  private static void writeStates(ByteWriter out, List<Bytes> states) {
    out.writeVarInt(states.size());
    for (Bytes state : states) {
      writeState(out, state);
    }
  }

  private static List<Bytes> readStates(ByteReader in) {
    int count = in.readCount(LeaderlessMessage.ENTRIES_PER_MESSAGE_MAX);
    List<Bytes> states = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      states.add(readState(in));
    }
    return states;
  }
}
