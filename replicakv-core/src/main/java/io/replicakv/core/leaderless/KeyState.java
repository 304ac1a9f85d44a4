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
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What one replica holds for one key of a leaderless keyspace, in one of the keyspace's conflict
 * modes, and how two replicas' states for the key join.
 *
 * <p><b>Model.</b> A replica never overwrites a key; it merges. {@link #merge} is a join
 * (commutative, associative, idempotent), so read repair, anti-entropy and hinted handoff may
 * deliver states in any order, any number of times, and replicas still converge to the join of
 * everything written:
 *
 * <ul>
 *   <li>{@link Siblings}: a {@link DvvSet}. Concurrent writes are kept side by side; a write made
 *       with a causal context replaces exactly the values that context covers, so siblings are
 *       bounded by truly concurrent writers. A delete is a tombstone value in the set: it replaces
 *       what its context covers and is itself hidden from reads.
 *   <li>{@link Lww}: the write with the highest HLC timestamp wins, ties broken by the writing
 *       node's id so that every replica picks the same winner whatever the arrival order. The
 *       losing write is discarded and counted (DDIA ch. 5, "Last write wins"). A delete is a
 *       timestamped tombstone.
 *   <li>{@link Counter}, {@link Set}, {@link Map} and {@link Register}: the CRDT types of {@code
 *       conflicts=crdt} (PN-counter, add-wins set, observed-remove map, LWW register); merge is the
 *       CRDT join, so nothing is discarded except the losing writes of a register (counted, as in
 *       LWW mode). A key's type is fixed by its first write and kept while it has a state: a {@code
 *       DEL} empties a set or map and deletes a register's value, but does not forget the type,
 *       since replicas that never saw the delete still hold a state of that type.
 * </ul>
 *
 * <p><b>Failure cases.</b> LWW loses every write but one among writes whose timestamps cross (clock
 * skew bounded by the HLC); that loss is the mode's contract and is counted, never silent. Merging
 * states of two different modes is a configuration bug and fails loudly.
 *
 * <p>Binary form (canonical, so equal states have equal bytes and equal {@link #digest()}s): a mode
 * byte (1 siblings, 2 LWW, 3 counter, 4 set, 5 map, 6 register), then the mode's body.
 */
public sealed interface KeyState {
  /** Sibling value tag: a live value follows. */
  int VALUE_TAG = 1;

  /** Sibling value tag: a tombstone (delete). */
  int TOMBSTONE_TAG = 0;

  /** The values a read shows, tombstones hidden; more than one are siblings. */
  List<String> visibleValues();

  /** True when the state shows nothing but tombstones. */
  boolean isTombstone();

  /** Number of values held, tombstones included (the sibling count for {@link Siblings}). */
  int valueCount();

  /**
   * The Redis-style type name a read reports: {@code string} (siblings, LWW, register), {@code
   * counter}, {@code set} or {@code hash}.
   */
  default String typeName() {
    return "string";
  }

  /** The causal context a client sends back with its next write (empty for LWW and CRDTs). */
  VersionVector context();

  /** The canonical binary form. */
  byte[] toBytes();

  /** A 64-bit digest of the canonical form, for Merkle trees and handoff acks. */
  default long digest() {
    return Hashing.hash64(toBytes());
  }

  /** The encoded form as message payload. */
  default Bytes encoded() {
    return Bytes.of(toBytes());
  }

  /**
   * The join of this state and {@code other}. {@code lwwTieBreak} false breaks LWW ties by keeping
   * this (the local) state: a deliberately broken variant the simulator must catch.
   */
  Merged merge(KeyState other, boolean lwwTieBreak);

  /**
   * A merge's outcome: the joined state and how many writes it discarded (LWW only).
   *
   * @param state the join
   * @param discardedWrites writes dropped by the merge (a losing LWW write), 0 or 1
   */
  record Merged(KeyState state, int discardedWrites) {}

  /** Sibling mode: a dotted version vector set of tagged values. */
  record Siblings(DvvSet set) implements KeyState {
    public Siblings {
      Check.notNull(set, "set");
    }

    @Override
    public List<String> visibleValues() {
      List<String> values = new ArrayList<>();
      for (Bytes value : set.values()) {
        if (value.byteAt(0) == VALUE_TAG) {
          values.add(untag(value));
        }
      }
      values.sort(null);
      return values;
    }

    @Override
    public boolean isTombstone() {
      return set.values().stream().allMatch(value -> value.byteAt(0) == TOMBSTONE_TAG);
    }

    @Override
    public int valueCount() {
      return set.siblingCount();
    }

    @Override
    public VersionVector context() {
      return set.context();
    }

    @Override
    public byte[] toBytes() {
      return new ByteWriter().writeByte(1).writeBytes(set.toBytes()).toByteArray();
    }

    @Override
    public Merged merge(KeyState other, boolean lwwTieBreak) {
      return new Merged(new Siblings(set.sync(sameMode(this, other, Siblings.class).set)), 0);
    }
  }

  /**
   * LWW mode: the winning write's timestamp, its coordinating node and its value (null for a
   * tombstone).
   */
  record Lww(Hlc stamp, String writer, String value) implements KeyState {
    public Lww {
      Check.notNull(stamp, "stamp");
      Check.notNull(writer, "writer");
    }

    @Override
    public List<String> visibleValues() {
      return value == null ? List.of() : List.of(value);
    }

    @Override
    public boolean isTombstone() {
      return value == null;
    }

    @Override
    public int valueCount() {
      return 1;
    }

    @Override
    public VersionVector context() {
      return VersionVector.EMPTY;
    }

    @Override
    public byte[] toBytes() {
      ByteWriter writer = new ByteWriter().writeByte(2);
      stamp.writeTo(writer);
      writer.writeString(this.writer).writeBoolean(value != null);
      if (value != null) {
        writer.writeString(value);
      }
      return writer.toByteArray();
    }

    /** True when this write beats {@code other} (strictly), ties broken by writer id if asked. */
    boolean beats(Lww other, boolean tieBreak) {
      int byStamp = stamp.compareTo(other.stamp);
      if (byStamp != 0 || !tieBreak) {
        return byStamp > 0;
      }
      int byWriter = writer.compareTo(other.writer);
      if (byWriter != 0) {
        return byWriter > 0;
      }
      // Same stamp and writer names one write; a differing value means a reused timestamp.
      Check.state(
          java.util.Objects.equals(value, other.value),
          "write %s@%s has two values",
          writer,
          stamp);
      return false;
    }

    @Override
    public Merged merge(KeyState other, boolean lwwTieBreak) {
      Lww theirs = sameMode(this, other, Lww.class);
      if (this.equals(theirs)) {
        return new Merged(this, 0);
      }
      return theirs.beats(this, lwwTieBreak) ? new Merged(theirs, 1) : new Merged(this, 1);
    }
  }

  /** CRDT mode, counter type: a PN-counter ({@code INCR}/{@code DECR}). */
  record Counter(PNCounter counter) implements KeyState {
    public Counter {
      Check.notNull(counter, "counter");
    }

    @Override
    public List<String> visibleValues() {
      return List.of(Long.toString(counter.value()));
    }

    @Override
    public boolean isTombstone() {
      return false;
    }

    @Override
    public int valueCount() {
      return 1;
    }

    @Override
    public VersionVector context() {
      return VersionVector.EMPTY;
    }

    @Override
    public byte[] toBytes() {
      return new ByteWriter().writeByte(3).writeBytes(counter.toBytes()).toByteArray();
    }

    @Override
    public String typeName() {
      return "counter";
    }

    @Override
    public Merged merge(KeyState other, boolean lwwTieBreak) {
      return new Merged(
          new Counter(counter.merge(sameMode(this, other, Counter.class).counter)), 0);
    }
  }

  /** CRDT mode, set type: an add-wins observed-remove set ({@code SADD}/{@code SREM}). */
  record Set(AwOrSet set) implements KeyState {
    public Set {
      Check.notNull(set, "set");
    }

    @Override
    public List<String> visibleValues() {
      return set.elements().stream().map(Bytes::toUtf8).toList();
    }

    @Override
    public boolean isTombstone() {
      return set.elements().isEmpty();
    }

    @Override
    public int valueCount() {
      return set.elements().size();
    }

    @Override
    public VersionVector context() {
      return VersionVector.EMPTY;
    }

    @Override
    public byte[] toBytes() {
      return new ByteWriter().writeByte(4).writeBytes(set.toBytes()).toByteArray();
    }

    @Override
    public String typeName() {
      return "set";
    }

    @Override
    public Merged merge(KeyState other, boolean lwwTieBreak) {
      return new Merged(new Set(set.merge(sameMode(this, other, Set.class).set)), 0);
    }
  }

  /**
   * CRDT mode, hash type: an observed-remove map ({@code HSET}/{@code HDEL}/{@code HINCRBY}) whose
   * fields are LWW registers (written by {@code HSET}) or PN-counters (written by {@code HINCRBY}).
   * Its visible values are the fields and their values, alternating, in field order.
   */
  record Map(OrMap map) implements KeyState {
    public Map {
      Check.notNull(map, "map");
    }

    @Override
    public List<String> visibleValues() {
      List<String> values = new ArrayList<>();
      map.entries()
          .forEach(
              (field, value) -> {
                values.add(field.toUtf8());
                values.add(fieldText(value));
              });
      return values;
    }

    @Override
    public boolean isTombstone() {
      return map.fields().isEmpty();
    }

    @Override
    public int valueCount() {
      return map.fields().size();
    }

    @Override
    public String typeName() {
      return "hash";
    }

    @Override
    public VersionVector context() {
      return VersionVector.EMPTY;
    }

    @Override
    public byte[] toBytes() {
      return new ByteWriter().writeByte(5).writeBytes(map.toBytes()).toByteArray();
    }

    @Override
    public Merged merge(KeyState other, boolean lwwTieBreak) {
      return new Merged(new Map(map.merge(sameMode(this, other, Map.class).map)), 0);
    }
  }

  /** A map field's value as a reply shows it: a register's bytes or a counter's decimal value. */
  static String fieldText(Crdt<?> value) {
    return switch (value) {
      case LwwRegister register -> register.value().map(Bytes::toUtf8).orElse("");
      case PNCounter counter -> Long.toString(counter.value());
      default -> throw new IllegalStateException("map field of type " + value.type());
    };
  }

  /**
   * CRDT mode, string type: an LWW register ({@code SET}/{@code GET} on a crdt keyspace), HLC
   * timestamps with ties broken by replica id, so every replica keeps the same value without
   * siblings; a {@code DEL} is a timestamped deletion.
   */
  record Register(LwwRegister register) implements KeyState {
    public Register {
      Check.notNull(register, "register");
    }

    @Override
    public List<String> visibleValues() {
      return register.value().map(value -> List.of(value.toUtf8())).orElse(List.of());
    }

    @Override
    public boolean isTombstone() {
      return register.value().isEmpty();
    }

    @Override
    public int valueCount() {
      return 1;
    }

    @Override
    public VersionVector context() {
      return VersionVector.EMPTY;
    }

    @Override
    public byte[] toBytes() {
      return new ByteWriter().writeByte(6).writeBytes(register.toBytes()).toByteArray();
    }

    @Override
    public Merged merge(KeyState other, boolean lwwTieBreak) {
      LwwRegister theirs = sameMode(this, other, Register.class).register;
      LwwRegister merged = register.merge(theirs);
      return new Merged(new Register(merged), register.equals(theirs) ? 0 : 1);
    }
  }

  /** Decodes {@link #toBytes()}. */
  static KeyState fromBytes(byte[] bytes) {
    ByteReader reader = new ByteReader(bytes);
    int mode = reader.readByte();
    KeyState state =
        switch (mode) {
          case 1 -> new Siblings(DvvSet.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
          case 2 -> readLww(reader);
          case 3 -> new Counter(PNCounter.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
          case 4 -> new Set(AwOrSet.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
          case 5 -> new Map(OrMap.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
          case 6 -> new Register(LwwRegister.fromBytes(reader.readBytes(Limits.VALUE_MAX_BYTES)));
          default -> throw new CorruptEncodingException("KeyState: unknown mode " + mode);
        };
    reader.finish();
    return state;
  }

  /** Decodes a message payload. */
  static KeyState decode(Bytes bytes) {
    return fromBytes(bytes.toByteArray());
  }

  private static Lww readLww(ByteReader reader) {
    Hlc stamp = Hlc.readFrom(reader);
    String writer = reader.readString(Limits.ID_MAX_BYTES);
    String value = reader.readBoolean() ? reader.readString(Limits.VALUE_MAX_BYTES) : null;
    return new Lww(stamp, writer, value);
  }

  /** A sibling value: tag byte then UTF-8. */
  static Bytes tagValue(String value) {
    byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
    byte[] tagged = new byte[utf8.length + 1];
    tagged[0] = VALUE_TAG;
    System.arraycopy(utf8, 0, tagged, 1, utf8.length);
    return Bytes.of(tagged);
  }

  /** The sibling tombstone. */
  static Bytes tombstone() {
    return Bytes.of(new byte[] {TOMBSTONE_TAG});
  }

  private static String untag(Bytes tagged) {
    byte[] bytes = tagged.toByteArray();
    return new String(bytes, 1, bytes.length - 1, StandardCharsets.UTF_8);
  }

  private static <T extends KeyState> T sameMode(KeyState self, KeyState other, Class<T> mode) {
    Check.state(
        mode.isInstance(other),
        "merging %s with %s: one keyspace has one conflict mode",
        self.getClass().getSimpleName(),
        other.getClass().getSimpleName());
    return mode.cast(other);
  }
}
