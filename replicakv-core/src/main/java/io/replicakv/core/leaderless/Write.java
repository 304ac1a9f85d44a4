package io.replicakv.core.leaderless;

import io.replicakv.core.causal.DvvSet;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.AwOrSet;
import io.replicakv.core.crdt.PNCounter;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.Optional;

/**
 * One client write to a leaderless key, as the coordinating replica applies it. A write becomes a
 * new version only at a replica of the key (an owner or a hinted substitute), which names it with a
 * dot of its own (siblings) or an HLC timestamp (LWW); the result is then merged everywhere else.
 *
 * <p>Binary form: kind byte (1 value, 2 delete, 3 increment, 4 set add, 5 set remove), then the
 * value, delta or element.
 */
public sealed interface Write {
  /** Sets the value (a {@code SET}). */
  record Value(String value) implements Write {
    public Value {
      Check.notNull(value, "value");
    }
  }

  /** Deletes the key: a tombstone that replaces what the write's context covers. */
  record Delete() implements Write {}

  /** Adds {@code delta} to a counter ({@code INCRBY}; CRDT mode). */
  record Increment(long delta) implements Write {}

  /** Adds an element to a set ({@code SADD}; CRDT mode). */
  record SetAdd(String element) implements Write {
    public SetAdd {
      Check.notNull(element, "element");
    }
  }

  /** Removes an element from a set ({@code SREM}; CRDT mode): observed adds only. */
  record SetRemove(String element) implements Write {
    public SetRemove {
      Check.notNull(element, "element");
    }
  }

  /** Why this write cannot be applied in {@code mode} to {@code current}, or empty when it can. */
  default Optional<String> refusal(ConflictMode mode, KeyState current) {
    boolean plain = this instanceof Value || this instanceof Delete;
    if (mode == ConflictMode.CRDT && plain && !(this instanceof Delete)) {
      return Optional.of("conflicts=crdt keys take INCRBY, SADD, SREM or DEL, not SET");
    }
    if (mode != ConflictMode.CRDT && !plain) {
      return Optional.of("CRDT operations need conflicts=crdt, this keyspace has " + mode);
    }
    if (mode == ConflictMode.CRDT && current != null) {
      boolean counter = this instanceof Increment;
      boolean set = this instanceof SetAdd || this instanceof SetRemove;
      if ((counter && !(current instanceof KeyState.Counter))
          || (set && !(current instanceof KeyState.Set))) {
        return Optional.of("WRONGTYPE key holds another CRDT type");
      }
    }
    return Optional.empty();
  }

  /**
   * The key's state after this write, applied at replica {@code replicaId}, which holds {@code
   * current} (null when it has nothing).
   *
   * @param context what the client had seen (siblings mode); empty for a blind write
   * @param stamp this replica's HLC timestamp for the write (LWW mode)
   */
  default KeyState apply(
      ConflictMode mode, KeyState current, VersionVector context, String replicaId, Hlc stamp) {
    Check.state(refusal(mode, current).isEmpty(), "write %s refused in %s", this, mode);
    return switch (mode) {
      case SIBLINGS -> {
        DvvSet set = current == null ? DvvSet.EMPTY : ((KeyState.Siblings) current).set();
        Bytes tagged =
            this instanceof Value value ? KeyState.tagValue(value.value()) : KeyState.tombstone();
        yield new KeyState.Siblings(set.update(context, replicaId, tagged));
      }
      case LWW -> new KeyState.Lww(stamp, replicaId, this instanceof Value v ? v.value() : null);
      case CRDT -> applyCrdt(current, replicaId);
    };
  }

  private KeyState applyCrdt(KeyState current, String replicaId) {
    return switch (this) {
      case Increment increment -> {
        PNCounter counter =
            current == null ? PNCounter.EMPTY : ((KeyState.Counter) current).counter();
        yield new KeyState.Counter(counter.add(replicaId, increment.delta()));
      }
      case SetAdd add -> new KeyState.Set(set(current).add(replicaId, Bytes.utf8(add.element())));
      case SetRemove remove -> new KeyState.Set(set(current).remove(Bytes.utf8(remove.element())));
      case Delete delete ->
          current instanceof KeyState.Set s
              ? new KeyState.Set(removeAll(s.set()))
              : current == null ? new KeyState.Set(AwOrSet.EMPTY) : current;
      case Value value -> throw new IllegalStateException("refused above");
    };
  }

  private static AwOrSet set(KeyState current) {
    return current == null ? AwOrSet.EMPTY : ((KeyState.Set) current).set();
  }

  private static AwOrSet removeAll(AwOrSet set) {
    AwOrSet result = set;
    for (Bytes element : set.elements()) {
      result = result.remove(element);
    }
    return result;
  }

  /** The binary form described in the class comment. */
  default Bytes encode() {
    ByteWriter writer = new ByteWriter();
    switch (this) {
      case Value value -> writer.writeByte(1).writeString(value.value());
      case Delete delete -> writer.writeByte(2);
      case Increment increment -> writer.writeByte(3).writeLong(increment.delta());
      case SetAdd add -> writer.writeByte(4).writeString(add.element());
      case SetRemove remove -> writer.writeByte(5).writeString(remove.element());
    }
    return Bytes.of(writer.toByteArray());
  }

  /** Decodes {@link #encode()}. */
  static Write decode(Bytes bytes) {
    ByteReader reader = new ByteReader(bytes.toByteArray());
    int kind = reader.readByte();
    Write write =
        switch (kind) {
          case 1 -> new Value(reader.readString(Limits.VALUE_MAX_BYTES));
          case 2 -> new Delete();
          case 3 -> new Increment(reader.readLong());
          case 4 -> new SetAdd(reader.readString(Limits.VALUE_MAX_BYTES));
          case 5 -> new SetRemove(reader.readString(Limits.VALUE_MAX_BYTES));
          default -> throw new CorruptEncodingException("Write: unknown kind " + kind);
        };
    reader.finish();
    return write;
  }
}
