package io.replicakv.core.causal;

import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A dotted version vector set: the value of one leaderless key with its siblings and their causal
 * history in one compact structure (Almeida, Baquero, Gonçalves, Preguiça, Fonte, "Scalable and
 * Accurate Causality Tracking for Eventually Consistent Stores", DAIS 2014; Riak's {@code dvvset}).
 *
 * <p><b>Model.</b> For each server replica {@code r} the set keeps a counter {@code n} and the list
 * of values written at dots {@code r:n, r:n-1, ..., r:n-len+1}, newest first. Dots {@code r:1 ..
 * r:n-len} are <i>covered</i>: some write that saw them replaced them, so their values are gone.
 * The counters together are the set's {@link #context()}; a client reads values and context, then
 * writes with that context, and {@link #update} discards exactly the values the context covers
 * before adding the new value at a fresh dot of the coordinating replica.
 *
 * <p><b>Invariants.</b> (1) A value survives exactly while no write that saw it has arrived: {@link
 * #sync} keeps a value unless the other side has its dot covered. (2) Hence the siblings are the
 * writes that are pairwise concurrent, so their number is bounded by the number of truly concurrent
 * writers, not by the number of clients or of retries (the flaw of per-client version vectors). (3)
 * Server counters only grow; a dot names one value everywhere; {@code sync} checks that overlapping
 * dots carry equal values, so two replicas sharing one id fail loudly instead of losing data.
 *
 * <p><b>Failure cases.</b> A client that writes without a context (a blind write) creates a sibling
 * of everything, by design. A context from another key is meaningless and may discard values; the
 * caller must pair contexts with keys. Only server replicas may own dots: the ids must be stable
 * and unique per replica, or invariant (3) trips.
 *
 * <p>Immutable; every operation returns a new set. {@link #sync} is a join: commutative,
 * associative and idempotent over sets built by these operations (checked by jqwik properties).
 *
 * <p>Binary form: version byte 1, varint entry count, then per entry in replica-id order: id,
 * counter (varint), value count (varint), values newest first (varint length + bytes).
 */
public final class DvvSet {
  /** The set with no values and an empty context. */
  public static final DvvSet EMPTY = new DvvSet(new TreeMap<>());

  private static final int FORMAT_VERSION = 1;

  /** One replica's counter and the values at its newest dots, newest first. */
  private record Entry(long counter, List<Bytes> values) {
    Entry {
      Check.state(values.size() <= counter, "%s values but counter %s", values.size(), counter);
      values = List.copyOf(values);
    }

    /** The value at dot {@code counter - index}. */
    long counterAt(int index) {
      return counter - index;
    }
  }

  private final SortedMap<String, Entry> entries;

  private DvvSet(TreeMap<String, Entry> entries) {
    this.entries = Collections.unmodifiableSortedMap(entries);
  }

  /**
   * The client write path: discards every value {@code clientContext} covers, then records {@code
   * value} at the next dot of {@code replicaId}, the replica coordinating the write.
   */
  public DvvSet update(VersionVector clientContext, String replicaId, Bytes value) {
    Check.notNull(replicaId, "replicaId");
    Check.notNull(value, "value");
    TreeMap<String, Entry> next = new TreeMap<>(discard(clientContext).entries);
    Entry current = next.get(replicaId);
    List<Bytes> values = new ArrayList<>();
    values.add(value);
    long counter = 1;
    if (current != null) {
      values.addAll(current.values());
      counter = Math.addExact(current.counter(), 1);
    }
    next.put(replicaId, new Entry(counter, values));
    return new DvvSet(next);
  }

  /** Removes the values whose dots {@code context} covers, and remembers the context. */
  public DvvSet discard(VersionVector context) {
    TreeMap<String, Entry> next = new TreeMap<>(entries);
    for (Map.Entry<String, Long> seen : context.entries().entrySet()) {
      long covered = seen.getValue();
      Entry entry = next.get(seen.getKey());
      if (entry == null) {
        next.put(seen.getKey(), new Entry(covered, List.of()));
      } else {
        int keep = (int) Math.max(0, Math.min(entry.values().size(), entry.counter() - covered));
        long counter = Math.max(entry.counter(), covered);
        next.put(seen.getKey(), new Entry(counter, entry.values().subList(0, keep)));
      }
    }
    return new DvvSet(next);
  }

  /** Replica-to-replica merge: keeps every value that neither side has covered. */
  public DvvSet sync(DvvSet other) {
    TreeMap<String, Entry> next = new TreeMap<>(entries);
    other.entries.forEach(
        (replica, theirs) -> {
          Entry ours = next.get(replica);
          next.put(replica, ours == null ? theirs : syncEntry(replica, ours, theirs));
        });
    return new DvvSet(next);
  }

  private static Entry syncEntry(String replica, Entry a, Entry b) {
    checkOverlapAgrees(replica, a, b);
    Entry higher = a.counter() >= b.counter() ? a : b;
    Entry lower = higher == a ? b : a;
    long coveredUpTo =
        Math.max(
            higher.counter() - higher.values().size(), lower.counter() - lower.values().size());
    int keep = (int) (higher.counter() - coveredUpTo);
    return new Entry(higher.counter(), higher.values().subList(0, keep));
  }

  private static void checkOverlapAgrees(String replica, Entry a, Entry b) {
    for (int i = 0; i < a.values().size(); i++) {
      long dot = a.counterAt(i);
      long indexInB = b.counter() - dot;
      if (indexInB >= 0 && indexInB < b.values().size()) {
        Check.state(
            a.values().get(i).equals(b.values().get((int) indexInB)),
            "dot %s:%s names two different values",
            replica,
            dot);
      }
    }
  }

  /** The live values (siblings), in replica-id order and newest first within a replica. */
  public List<Bytes> values() {
    List<Bytes> all = new ArrayList<>();
    entries.values().forEach(entry -> all.addAll(entry.values()));
    return all;
  }

  /** The live values keyed by the dot that wrote them. */
  public SortedMap<Dot, Bytes> dottedValues() {
    TreeMap<Dot, Bytes> result = new TreeMap<>();
    entries.forEach(
        (replica, entry) -> {
          for (int i = 0; i < entry.values().size(); i++) {
            result.put(new Dot(replica, entry.counterAt(i)), entry.values().get(i));
          }
        });
    return result;
  }

  /** Number of live values. */
  public int siblingCount() {
    return entries.values().stream().mapToInt(entry -> entry.values().size()).sum();
  }

  /** The join of everything this set has seen: what a client sends back with its next write. */
  public VersionVector context() {
    TreeMap<String, Long> counters = new TreeMap<>();
    entries.forEach((replica, entry) -> counters.put(replica, entry.counter()));
    return VersionVector.of(counters);
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION).writeVarInt(entries.size());
    entries.forEach(
        (replica, entry) -> {
          writer.writeString(replica).writeVarLong(entry.counter());
          writer.writeVarInt(entry.values().size());
          entry.values().forEach(value -> writer.writeBytes(value.toByteArray()));
        });
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static DvvSet fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "DvvSet");
    int count = reader.readCount(Limits.REPLICAS_MAX);
    TreeMap<String, Entry> entries = new TreeMap<>();
    for (int i = 0; i < count; i++) {
      String replica = reader.readString(Limits.ID_MAX_BYTES);
      long counter = reader.readVarLong();
      int valueCount = reader.readCount(Limits.ELEMENTS_MAX);
      if (counter < 1 || valueCount > counter || entries.containsKey(replica)) {
        throw new CorruptEncodingException("DvvSet: bad entry " + replica + " " + counter);
      }
      List<Bytes> values = new ArrayList<>(valueCount);
      for (int v = 0; v < valueCount; v++) {
        values.add(Bytes.of(reader.readBytes(Limits.VALUE_MAX_BYTES)));
      }
      entries.put(replica, new Entry(counter, values));
    }
    reader.finish();
    return new DvvSet(entries);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof DvvSet that && entries.equals(that.entries);
  }

  @Override
  public int hashCode() {
    return entries.hashCode();
  }

  @Override
  public String toString() {
    return entries.toString();
  }
}
