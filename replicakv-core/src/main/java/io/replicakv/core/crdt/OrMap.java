package io.replicakv.core.crdt;

import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * An observed-remove map from fields to CRDT values: what {@code HSET}, {@code HDEL} and {@code
 * HINCRBY} build under {@code conflicts=crdt} (a Redis hash whose fields are LWW registers or
 * PN-counters). In the family of Riak's maps and the ORMap of Almeida, Shoker and Baquero, "Delta
 * State Replicated Data Types" (2018), with a simpler embedding.
 *
 * <p><b>Model.</b> Each update of a field is a fresh dot that carries the field's <i>whole</i> new
 * value (the value the writer saw, with its change applied) and replaces the field's dots the
 * writer has seen. Removing a field drops the dots seen. Merge is the dot-store merge, so a field's
 * surviving dots are those no replica has seen replaced or removed, and the field's value is the
 * CRDT merge of the values at those dots. Because each dot's value is immutable, the map is a
 * lattice whatever the embedded types do.
 *
 * <p><b>Remove semantics: add-wins.</b> An update concurrent with a removal of the same field
 * survives, and the field keeps the value that update wrote. The removal does not subtract from it:
 * a counter field removed at one site and concurrently incremented at another reappears with the
 * incremented value as its updater saw it. Sequential remove then update starts from empty.
 *
 * <p><b>Failure cases.</b> Concurrent updates that give one field different types (a register at
 * one site, a counter at another) cannot be merged; the value of the type with the larger {@link
 * CrdtType#tag()} wins, deterministically on every replica, and the other type's values stay stored
 * until a later update replaces them. A local update never makes such a clash: the caller refuses a
 * type mismatch as Redis does ({@code WRONGTYPE}).
 *
 * <p>Binary form: version byte 1, context, varint count, then per dot: dot, field bytes, value type
 * tag, value's own binary form (varint length + bytes).
 */
public final class OrMap implements Crdt<OrMap> {
  /** The empty map. */
  public static final OrMap EMPTY = new OrMap(DotStore.empty());

  private static final int FORMAT_VERSION = 1;

  /** One field's value as written at one dot. */
  private record FieldValue(Bytes field, Crdt<?> value) {}

  private final DotStore<FieldValue> store;

  private OrMap(DotStore<FieldValue> store) {
    this.store = store;
  }

  /**
   * The map after {@code replicaId} sets {@code field} to {@code value}, which must be the field's
   * current value (from {@link #get}) with the change applied, or a fresh value.
   */
  public OrMap put(String replicaId, Bytes field, Crdt<?> value) {
    Check.notNull(field, "field");
    return new OrMap(
        store.replace(replicaId, seen -> seen.field().equals(field), new FieldValue(field, value)));
  }

  /** The map after removing every observed update of {@code field}. */
  public OrMap remove(Bytes field) {
    return new OrMap(store.remove(seen -> seen.field().equals(field)));
  }

  /** The present fields, in unsigned byte order. */
  public SortedSet<Bytes> fields() {
    TreeSet<Bytes> fields = new TreeSet<>();
    store.payloads().values().forEach(entry -> fields.add(entry.field()));
    return Collections.unmodifiableSortedSet(fields);
  }

  /** The field's value: the merge of its surviving updates, empty if the field is absent. */
  public Optional<Crdt<?>> get(Bytes field) {
    List<Crdt<?>> values = new ArrayList<>();
    CrdtType winning = null;
    for (FieldValue entry : store.payloads().values()) {
      if (entry.field().equals(field)) {
        values.add(entry.value());
        CrdtType type = entry.value().type();
        winning = winning == null || type.tag() > winning.tag() ? type : winning;
      }
    }
    Crdt<?> merged = null;
    for (Crdt<?> value : values) {
      if (value.type() == winning) {
        merged = merged == null ? value : mergeSameType(merged, value);
      }
    }
    return Optional.ofNullable(merged);
  }

  /** The field's value if it is of {@code type}; empty if absent or of another type. */
  public <T extends Crdt<T>> Optional<T> get(Bytes field, Class<T> type) {
    return get(field).filter(type::isInstance).map(type::cast);
  }

  /** Every field's value. */
  public SortedMap<Bytes, Crdt<?>> entries() {
    TreeMap<Bytes, Crdt<?>> entries = new TreeMap<>();
    for (Bytes field : fields()) {
      entries.put(field, get(field).orElseThrow());
    }
    return Collections.unmodifiableSortedMap(entries);
  }

  /** Every update this map has seen. */
  public VersionVector context() {
    return store.context();
  }

  @SuppressWarnings("unchecked")
  private static <T extends Crdt<T>> Crdt<?> mergeSameType(Crdt<?> a, Crdt<?> b) {
    Check.state(a.type() == b.type(), "merging %s with %s", a.type(), b.type());
    return ((T) a).merge((T) b);
  }

  @Override
  public OrMap merge(OrMap other) {
    return new OrMap(store.merge(other.store));
  }

  @Override
  public CrdtType type() {
    return CrdtType.OR_MAP;
  }

  @Override
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    store.writeTo(
        writer,
        (out, entry) ->
            out.writeBytes(entry.field().toByteArray())
                .writeByte(entry.value().type().tag())
                .writeBytes(entry.value().toBytes()));
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static OrMap fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "OrMap");
    DotStore<FieldValue> store =
        DotStore.readFrom(
            reader,
            in -> {
              Bytes field = Bytes.of(in.readBytes(Limits.VALUE_MAX_BYTES));
              CrdtType type = CrdtType.ofTag(in.readByte());
              return new FieldValue(field, type.decode(in.readBytes(Limits.VALUE_MAX_BYTES)));
            });
    reader.finish();
    return new OrMap(store);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof OrMap that && store.equals(that.store);
  }

  @Override
  public int hashCode() {
    return store.hashCode();
  }

  @Override
  public String toString() {
    return "OrMap" + entries();
  }
}
