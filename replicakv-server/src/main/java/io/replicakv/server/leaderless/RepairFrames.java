package io.replicakv.server.leaderless;

import io.replicakv.core.ring.Slots;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The peer frames of an operator's repair pass ({@link LeaderlessRepair}): the coordinating node
 * asks each member for its counters, to start exchanges, or for its Merkle roots.
 *
 * <pre>
 * request (type 34) = [u8 version 1][u8 op][varint keyspace]
 * reply   (type 35) = [u8 version 1][u8 served] body
 *   COUNTERS body   = [varint n]([string name][varlong value]){n}
 *   START body      = [varint started][varint skipped]
 *   ROOTS body      = [varint n]([varint partition][u64 root]){n}
 * </pre>
 *
 * {@code served} is 0 when the member does not serve the keyspace (then the body is empty). Every
 * malformed input is a {@link CorruptEncodingException}.
 */
final class RepairFrames {
  /** Peer frame type of a repair request. */
  static final int TYPE_REPAIR = 34;

  /** Peer frame type of the reply to {@link #TYPE_REPAIR}. */
  static final int TYPE_REPAIR_REPLY = 35;

  private static final int VERSION = 1;

  /** Counters one reply may carry (the core has about twenty). */
  static final int COUNTERS_MAX = 256;

  /** Counter name length bound, bytes. */
  private static final int COUNTER_NAME_MAX_BYTES = 128;

  /** What a request asks. */
  enum Op {
    COUNTERS,
    START,
    ROOTS
  }

  record Request(Op op, int keyspace) {}

  private RepairFrames() {}

  static byte[] encodeRequest(Request request) {
    return new ByteWriter()
        .writeByte(VERSION)
        .writeByte(request.op().ordinal() + 1)
        .writeVarInt(request.keyspace())
        .toByteArray();
  }

  static Request decodeRequest(byte[] payload) {
    ByteReader reader = ByteReader.open(payload, VERSION, "repair request");
    int op = reader.readByte();
    if (op < 1 || op > Op.values().length) {
      throw new CorruptEncodingException("repair request: unknown op " + op);
    }
    int keyspace = reader.readVarInt(Integer.MAX_VALUE);
    reader.finish();
    return new Request(Op.values()[op - 1], keyspace);
  }

  static byte[] notServed() {
    return new ByteWriter().writeByte(VERSION).writeBoolean(false).toByteArray();
  }

  static byte[] encodeCounters(Map<String, Long> counters) {
    Check.argument(counters.size() <= COUNTERS_MAX, "%s counters", counters.size());
    ByteWriter writer =
        new ByteWriter().writeByte(VERSION).writeBoolean(true).writeVarInt(counters.size());
    counters.forEach((name, value) -> writer.writeString(name).writeVarLong(value));
    return writer.toByteArray();
  }

  /** The counters, or null when the member does not serve the keyspace. */
  static Map<String, Long> decodeCounters(byte[] payload) {
    ByteReader reader = ByteReader.open(payload, VERSION, "repair counters");
    if (!reader.readBoolean()) {
      reader.finish();
      return null;
    }
    int n = reader.readCount(COUNTERS_MAX);
    Map<String, Long> counters = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      counters.put(reader.readString(COUNTER_NAME_MAX_BYTES), reader.readVarLong());
    }
    reader.finish();
    return counters;
  }

  static byte[] encodeStart(LeaderlessService.ExchangeStart start) {
    return new ByteWriter()
        .writeByte(VERSION)
        .writeBoolean(true)
        .writeVarInt(start.started())
        .writeVarInt(start.skippedSuspected())
        .toByteArray();
  }

  /** What the member started, or null when it does not serve the keyspace. */
  static LeaderlessService.ExchangeStart decodeStart(byte[] payload) {
    ByteReader reader = ByteReader.open(payload, VERSION, "repair start");
    if (!reader.readBoolean()) {
      reader.finish();
      return null;
    }
    LeaderlessService.ExchangeStart start =
        new LeaderlessService.ExchangeStart(
            reader.readVarInt(Integer.MAX_VALUE), reader.readVarInt(Integer.MAX_VALUE));
    reader.finish();
    return start;
  }

  static byte[] encodeRoots(Map<Integer, Long> roots) {
    Check.argument(roots.size() <= Slots.SLOT_COUNT, "%s roots", roots.size());
    ByteWriter writer =
        new ByteWriter().writeByte(VERSION).writeBoolean(true).writeVarInt(roots.size());
    roots.forEach((partition, root) -> writer.writeVarInt(partition).writeLong(root));
    return writer.toByteArray();
  }

  /** Roots by partition, or null when the member does not serve the keyspace. */
  static Map<Integer, Long> decodeRoots(byte[] payload) {
    ByteReader reader = ByteReader.open(payload, VERSION, "repair roots");
    if (!reader.readBoolean()) {
      reader.finish();
      return null;
    }
    int n = reader.readCount(Slots.SLOT_COUNT);
    Map<Integer, Long> roots = new TreeMap<>();
    for (int i = 0; i < n; i++) {
      roots.put(reader.readVarInt(Slots.SLOT_COUNT - 1), reader.readLong());
    }
    reader.finish();
    return roots;
  }
}
