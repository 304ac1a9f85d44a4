package io.replicakv.core.multi;

import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.crdt.CrdtType;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.nio.charset.StandardCharsets;

/**
 * What one multi-leader change does to its key: assign a value (resolved by the keyspace's conflict
 * strategy), delete it (a tombstone, resolved like an assignment) or carry a CRDT state that
 * receivers join into theirs.
 *
 * <p>A CRDT change carries the whole state of the key at the origin after the command, not the
 * command: receivers merge states, so duplicates and any delivery order give the same result.
 */
public sealed interface Mutation {
  /** Sets the key's value; the conflict strategy decides what concurrent assignments become. */
  record Assign(String value) implements Mutation {
    public Assign {
      Check.notNull(value, "value");
    }
  }

  /**
   * Deletes the key: a tombstone version that overwrites exactly what the deleting site (or client
   * context) had seen, like an assignment, and reads as no value. Tombstones stay in the key's
   * state, so a value the delete covered can never come back when a link heals (LESSONS.md 10); a
   * value written concurrently with the delete is resolved by the keyspace's strategy (lww: by
   * timestamp; siblings and merge: the value survives next to the tombstone).
   */
  record Delete() implements Mutation {}

  /** True for a {@link Delete} tombstone. */
  default boolean isTombstone() {
    return this instanceof Delete;
  }

  /** The key's CRDT state at the origin after a command; receivers join it into theirs. */
  record CrdtState(Crdt<?> state) implements Mutation {
    public CrdtState {
      Check.notNull(state, "state");
    }

    @Override
    public boolean equals(Object other) {
      return other instanceof CrdtState that && state.equals(that.state);
    }

    @Override
    public int hashCode() {
      return state.hashCode();
    }
  }

  /** Encoded size in bytes, for lag in bytes. */
  default int sizeBytes() {
    return switch (this) {
      case Assign assign -> assign.value().getBytes(StandardCharsets.UTF_8).length;
      case CrdtState crdt -> crdt.state().toBytes().length;
      case Delete delete -> 0;
    };
  }

  /** Writes a tag byte and the body. */
  default void writeTo(ByteWriter writer) {
    switch (this) {
      case Assign assign -> writer.writeByte(1).writeString(assign.value());
      case CrdtState crdt ->
          writer
              .writeByte(2)
              .writeByte(crdt.state().type().tag())
              .writeBytes(crdt.state().toBytes());
      case Delete delete -> writer.writeByte(3);
    }
  }

  /** Reads what {@link #writeTo} wrote. */
  static Mutation readFrom(ByteReader reader) {
    int tag = reader.readByte();
    return switch (tag) {
      case 1 -> new Assign(reader.readString(Limits.VALUE_MAX_BYTES));
      case 2 -> {
        CrdtType type = CrdtType.ofTag(reader.readByte());
        yield new CrdtState(type.decode(reader.readBytes(Limits.VALUE_MAX_BYTES)));
      }
      case 3 -> new Delete();
      default -> throw new CorruptEncodingException("unknown mutation tag " + tag);
    };
  }
}
