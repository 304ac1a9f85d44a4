package io.replicakv.core.leaderless;

import io.replicakv.core.causal.DvvSet;
import io.replicakv.core.causal.Hlc;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.crdt.AwOrSet;
import io.replicakv.core.crdt.Crdt;
import io.replicakv.core.crdt.LwwRegister;
import io.replicakv.core.crdt.OrMap;
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
 * <p>In {@code conflicts=crdt} a key's type follows its first write, as Redis types keys: {@link
 * Value} makes an LWW register, {@link Increment} a PN-counter, {@link SetAdd}/{@link SetRemove} an
 * add-wins set, {@link HashSet}/{@link HashDelete}/{@link HashIncrement} an observed-remove map.
 * Map fields: {@code HSET} writes an LWW register (the last write of a field wins, by HLC, as for
 * strings), {@code HINCRBY} a PN-counter (concurrent increments add up); {@code HINCRBY} on a field
 * holding an integer string starts the counter from that integer, on any other string it is refused
 * as Redis refuses it, and {@code HSET} on a counter field replaces the counter with the string. A
 * write of another type's command is refused with {@code WRONGTYPE}.
 *
 * <p>Binary form: kind byte (1 value, 2 delete, 3 increment, 4 set add, 5 set remove, 6 hash set, 7
 * hash delete, 8 hash increment), then the value, delta, element or field (and value or delta).
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

  /** Sets a map field to a string ({@code HSET}; CRDT mode). */
  record HashSet(String field, String value) implements Write {
    public HashSet {
      Check.notNull(field, "field");
      Check.notNull(value, "value");
    }
  }

  /** Removes a map field ({@code HDEL}; CRDT mode): observed updates only, so add wins. */
  record HashDelete(String field) implements Write {
    public HashDelete {
      Check.notNull(field, "field");
    }
  }

  /** Adds {@code delta} to a map field's counter ({@code HINCRBY}; CRDT mode). */
  record HashIncrement(String field, long delta) implements Write {
    public HashIncrement {
      Check.notNull(field, "field");
    }
  }

  /** Why this write cannot be applied in {@code mode} to {@code current}, or empty when it can. */
  default Optional<String> refusal(ConflictMode mode, KeyState current) {
    boolean plain = this instanceof Value || this instanceof Delete;
    if (mode != ConflictMode.CRDT && !plain) {
      return Optional.of("CRDT operations need conflicts=crdt, this keyspace has " + mode);
    }
    if (mode != ConflictMode.CRDT || current == null) {
      return Optional.empty();
    }
    boolean typeMatches =
        switch (this) {
          case Value value -> current instanceof KeyState.Register;
          case Delete delete -> true;
          case Increment increment -> current instanceof KeyState.Counter;
          case SetAdd add -> current instanceof KeyState.Set;
          case SetRemove remove -> current instanceof KeyState.Set;
          case HashSet set -> current instanceof KeyState.Map;
          case HashDelete delete -> current instanceof KeyState.Map;
          case HashIncrement increment -> current instanceof KeyState.Map;
        };
    if (!typeMatches) {
      return Optional.of("WRONGTYPE key holds another CRDT type (" + current.typeName() + ")");
    }
    if (this instanceof HashIncrement increment
        && ((KeyState.Map) current).map().get(Bytes.utf8(increment.field())).orElse(null)
            instanceof LwwRegister register
        && parseInteger(register) == null) {
      return Optional.of("ERR hash value is not an integer");
    }
    return Optional.empty();
  }

  private static Long parseInteger(LwwRegister register) {
    try {
      return Long.parseLong(register.value().map(Bytes::toUtf8).orElse(""));
    } catch (NumberFormatException e) {
      return null;
    }
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
      case CRDT -> applyCrdt(current, replicaId, stamp);
    };
  }

  private KeyState applyCrdt(KeyState current, String replicaId, Hlc stamp) {
    return switch (this) {
      case Increment increment -> {
        PNCounter counter =
            current == null ? PNCounter.EMPTY : ((KeyState.Counter) current).counter();
        yield new KeyState.Counter(counter.add(replicaId, increment.delta()));
      }
      case SetAdd add -> new KeyState.Set(set(current).add(replicaId, Bytes.utf8(add.element())));
      case SetRemove remove -> new KeyState.Set(set(current).remove(Bytes.utf8(remove.element())));
      case Delete delete ->
          switch (current) {
            case KeyState.Set s -> new KeyState.Set(removeAll(s.set()));
            case KeyState.Map m -> new KeyState.Map(removeAllFields(m.map()));
            case KeyState.Register r ->
                new KeyState.Register(r.register().delete(stamp, replicaId));
            case null -> new KeyState.Set(AwOrSet.EMPTY);
            default -> current;
          };
      case Value value ->
          new KeyState.Register(
              register(current).assign(stamp, replicaId, Bytes.utf8(value.value())));
      case HashSet set -> {
        OrMap map = map(current);
        Bytes field = Bytes.utf8(set.field());
        LwwRegister old = map.get(field, LwwRegister.class).orElse(LwwRegister.EMPTY);
        yield new KeyState.Map(
            map.put(replicaId, field, old.assign(stamp, replicaId, Bytes.utf8(set.value()))));
      }
      case HashDelete delete -> new KeyState.Map(map(current).remove(Bytes.utf8(delete.field())));
      case HashIncrement increment -> {
        OrMap map = map(current);
        Bytes field = Bytes.utf8(increment.field());
        Crdt<?> old = map.get(field).orElse(null);
        PNCounter counter =
            switch (old) {
              case PNCounter c -> c.add(replicaId, increment.delta());
              case LwwRegister r ->
                  PNCounter.EMPTY.add(replicaId, Math.addExact(parseInteger(r), increment.delta()));
              case null -> PNCounter.EMPTY.add(replicaId, increment.delta());
              default -> throw new IllegalStateException("map field of type " + old.type());
            };
        yield new KeyState.Map(map.put(replicaId, field, counter));
      }
    };
  }

  private static LwwRegister register(KeyState current) {
    return current == null ? LwwRegister.EMPTY : ((KeyState.Register) current).register();
  }

  private static OrMap map(KeyState current) {
    return current == null ? OrMap.EMPTY : ((KeyState.Map) current).map();
  }

  private static OrMap removeAllFields(OrMap map) {
    OrMap result = map;
    for (Bytes field : map.fields()) {
      result = result.remove(field);
    }
    return result;
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
      case HashSet set -> writer.writeByte(6).writeString(set.field()).writeString(set.value());
      case HashDelete delete -> writer.writeByte(7).writeString(delete.field());
      case HashIncrement increment ->
          writer.writeByte(8).writeString(increment.field()).writeLong(increment.delta());
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
          case 6 ->
              new HashSet(
                  reader.readString(Limits.VALUE_MAX_BYTES),
                  reader.readString(Limits.VALUE_MAX_BYTES));
          case 7 -> new HashDelete(reader.readString(Limits.VALUE_MAX_BYTES));
          case 8 -> new HashIncrement(reader.readString(Limits.VALUE_MAX_BYTES), reader.readLong());
          default -> throw new CorruptEncodingException("Write: unknown kind " + kind);
        };
    reader.finish();
    return write;
  }
}
