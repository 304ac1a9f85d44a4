package io.replicakv.core.single;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.Lsn;
import io.replicakv.core.msg.Operation;
import io.replicakv.core.msg.SingleLeaderMessage.Entry;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import java.util.Map;
import java.util.TreeMap;

/**
 * The records a single-leader replica or controller persists, and their binary form. A replica's
 * durable state is the sequence of these records: replaying them in order rebuilds its log (appends
 * and truncations), the newest epoch it promised to honour, and its divergent writes. A crash may
 * lose any unsynced suffix of the sequence; every prefix is a valid state.
 */
final class ReplicaRecords {
  /** Format version of every record here. */
  static final int VERSION = 1;

  /** Longest key or value accepted from disk, in bytes. */
  static final int STRING_BYTES_MAX = 16 * 1024 * 1024;

  private static final int APPEND = 1;
  private static final int TRUNCATE = 2;
  private static final int PROMISE = 3;
  private static final int CONTROLLER = 4;
  private static final int INCARNATION = 5;
  private static final int INSTALLED = 6;

  /** Registers one INSTALLED record may carry (the simulator's state; the server's is empty). */
  static final int REGISTERS_MAX = 10_000_000;

  // The byte after an APPEND's offset says what the entry carries. Version-1 logs written before
  // Write existed stored a boolean there (0 marker, 1 Put), which these values keep meaning.
  private static final int ENTRY_MARKER = 0;
  private static final int ENTRY_PUT = 1;
  private static final int ENTRY_WRITE = 2;

  /** One decoded record. */
  sealed interface Decoded
      permits Append, Truncate, Promise, ControllerState, Incarnation, Installed {}

  /** An entry appended to the log. */
  record Append(Entry entry) implements Decoded {}

  /** The log was cut after {@code offset}; what followed became divergent writes. */
  record Truncate(long offset) implements Decoded {}

  /** The replica honours no epoch below {@code epoch} (it answered a fence or saw the epoch). */
  record Promise(long epoch) implements Decoded {}

  /** The controller's decided epoch and leader (-1: none yet). */
  record ControllerState(long epoch, int leader) implements Decoded {}

  /** The replica started for the {@code number}-th time; lease grants name the incarnation. */
  record Incarnation(long number) implements Decoded {}

  /**
   * A partition snapshot at {@code lsn} replaced the replica's state and log: the log starts after
   * {@code lsn}, and {@code registers} is the register state the snapshot carried (empty for opaque
   * writes, whose state the caller loaded into its own storage before it reported the install).
   */
  record Installed(Lsn lsn, Map<String, String> registers) implements Decoded {}

  private ReplicaRecords() {}

  static PersistRecord installed(Lsn lsn, Map<String, String> registers) {
    Check.argument(registers.size() <= REGISTERS_MAX, "%s registers", registers.size());
    ByteWriter out =
        new ByteWriter()
            .writeByte(VERSION)
            .writeByte(INSTALLED)
            .writeVarLong(lsn.epoch())
            .writeVarLong(lsn.offset())
            .writeVarInt(registers.size());
    registers.forEach((key, value) -> out.writeString(key).writeString(value));
    return new PersistRecord(out.toByteArray());
  }

  static PersistRecord incarnation(long number) {
    return new PersistRecord(
        new ByteWriter()
            .writeByte(VERSION)
            .writeByte(INCARNATION)
            .writeVarLong(number)
            .toByteArray());
  }

  static PersistRecord append(Entry entry) {
    ByteWriter out = new ByteWriter().writeByte(VERSION).writeByte(APPEND);
    out.writeVarLong(entry.epoch()).writeVarLong(entry.offset());
    switch (entry.operation()) {
      case null -> out.writeByte(ENTRY_MARKER);
      case Operation.Put put ->
          out.writeByte(ENTRY_PUT).writeString(put.key()).writeString(put.value());
      case Operation.Write write ->
          out.writeByte(ENTRY_WRITE).writeString(write.key()).writeBytes(write.payload());
    }
    return new PersistRecord(out.toByteArray());
  }

  static PersistRecord truncate(long offset) {
    return new PersistRecord(
        new ByteWriter().writeByte(VERSION).writeByte(TRUNCATE).writeVarLong(offset).toByteArray());
  }

  static PersistRecord promise(long epoch) {
    return new PersistRecord(
        new ByteWriter().writeByte(VERSION).writeByte(PROMISE).writeVarLong(epoch).toByteArray());
  }

  static PersistRecord controller(long epoch, int leader) {
    return new PersistRecord(
        new ByteWriter()
            .writeByte(VERSION)
            .writeByte(CONTROLLER)
            .writeVarLong(epoch)
            .writeVarInt(leader + 1)
            .toByteArray());
  }

  private static Operation.Mutation readMutation(ByteReader in) {
    int kind = in.readByte();
    return switch (kind) {
      case ENTRY_MARKER -> null;
      case ENTRY_PUT ->
          new Operation.Put(in.readString(STRING_BYTES_MAX), in.readString(STRING_BYTES_MAX));
      case ENTRY_WRITE ->
          new Operation.Write(
              in.readString(STRING_BYTES_MAX), in.readBytes(Operation.PAYLOAD_BYTES_MAX));
      default -> throw new CorruptEncodingException("unknown entry kind " + kind);
    };
  }

  static Decoded decode(PersistRecord record) {
    ByteReader in = ByteReader.open(record.payload(), VERSION, "single-leader record");
    int type = in.readByte();
    Decoded decoded =
        switch (type) {
          case APPEND -> {
            long epoch = in.readVarLong();
            long offset = in.readVarLong();
            yield new Append(new Entry(epoch, offset, readMutation(in)));
          }
          case TRUNCATE -> new Truncate(in.readVarLong());
          case PROMISE -> new Promise(in.readVarLong());
          case INCARNATION -> new Incarnation(in.readVarLong());
          case INSTALLED -> {
            Lsn lsn = new Lsn(in.readVarLong(), in.readVarLong());
            int count = in.readVarInt(REGISTERS_MAX);
            Map<String, String> registers = new TreeMap<>();
            for (int i = 0; i < count; i++) {
              registers.put(in.readString(STRING_BYTES_MAX), in.readString(STRING_BYTES_MAX));
            }
            yield new Installed(lsn, registers);
          }
          case CONTROLLER ->
              new ControllerState(in.readVarLong(), in.readVarInt(Integer.MAX_VALUE) - 1);
          default ->
              throw new CorruptEncodingException("unknown single-leader record type " + type);
        };
    in.finish();
    Check.state(decoded != null, "record type %s decoded to nothing", type);
    return decoded;
  }
}
