package io.replicakv.core.causal;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A version vector: for each replica, how many of its events have been seen (Parker et al. 1983;
 * DDIA chapter 5, "Detecting Concurrent Writes"). Because each replica numbers its events 1, 2,
 * 3... without gaps, entry {@code r -> n} stands for the dots {@code r:1 .. r:n}.
 *
 * <p>Immutable. Entries with counter 0 are never stored, so equal vectors have equal maps and equal
 * binary forms. The order given by {@link #compare} is a partial order: reflexive, antisymmetric
 * and transitive, with {@link #merge} as the least upper bound.
 *
 * <p>Binary form: version byte 1, varint entry count, then per entry in replica-id order the id
 * (UTF-8, varint length) and the counter (varint).
 */
public final class VersionVector {
  /** The vector that has seen nothing. */
  public static final VersionVector EMPTY = new VersionVector(new TreeMap<>());

  private static final int FORMAT_VERSION = 1;

  private final SortedMap<String, Long> counters;

  private VersionVector(TreeMap<String, Long> counters) {
    this.counters = Collections.unmodifiableSortedMap(counters);
  }

  /** A vector with the given entries; zero entries are dropped, negative ones refused. */
  public static VersionVector of(Map<String, Long> entries) {
    TreeMap<String, Long> copy = new TreeMap<>();
    entries.forEach(
        (replica, counter) -> {
          Check.argument(counter >= 0, "counter for %s is %s < 0", replica, counter);
          if (counter > 0) {
            copy.put(Check.notNull(replica, "replica"), counter);
          }
        });
    return new VersionVector(copy);
  }

  /** The counter for {@code replicaId}, 0 if it has no entry. */
  public long get(String replicaId) {
    return counters.getOrDefault(replicaId, 0L);
  }

  /** The entries, in replica-id order; unmodifiable. */
  public SortedMap<String, Long> entries() {
    return counters;
  }

  /** True when the vector has seen nothing. */
  public boolean isEmpty() {
    return counters.isEmpty();
  }

  /** The vector after one more event at {@code replicaId}. */
  public VersionVector increment(String replicaId) {
    TreeMap<String, Long> copy = new TreeMap<>(counters);
    copy.merge(replicaId, 1L, Math::addExact);
    return new VersionVector(copy);
  }

  /** The next dot {@code replicaId} would create after the events this vector has seen. */
  public Dot nextDot(String replicaId) {
    return new Dot(replicaId, get(replicaId) + 1);
  }

  /** The vector with {@code dot} added; the counter only ever grows. */
  public VersionVector with(Dot dot) {
    if (get(dot.replicaId()) >= dot.counter()) {
      return this;
    }
    TreeMap<String, Long> copy = new TreeMap<>(counters);
    copy.put(dot.replicaId(), dot.counter());
    return new VersionVector(copy);
  }

  /** True when the event {@code dot} is among those this vector has seen. */
  public boolean contains(Dot dot) {
    return get(dot.replicaId()) >= dot.counter();
  }

  /** The least upper bound: per replica, the larger counter. */
  public VersionVector merge(VersionVector other) {
    TreeMap<String, Long> joined = new TreeMap<>(counters);
    other.counters.forEach((replica, counter) -> joined.merge(replica, counter, Math::max));
    return new VersionVector(joined);
  }

  /** True when this vector has seen every event {@code other} has seen. */
  public boolean descends(VersionVector other) {
    for (Map.Entry<String, Long> entry : other.counters.entrySet()) {
      if (get(entry.getKey()) < entry.getValue()) {
        return false;
      }
    }
    return true;
  }

  /** How this vector relates to {@code other}. */
  public Causality compare(VersionVector other) {
    boolean thisCovers = descends(other);
    boolean otherCovers = other.descends(this);
    if (thisCovers && otherCovers) {
      return Causality.EQUAL;
    }
    if (thisCovers) {
      return Causality.AFTER;
    }
    return otherCovers ? Causality.BEFORE : Causality.CONCURRENT;
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    writeTo(writer);
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static VersionVector fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "VersionVector");
    VersionVector vector = readFrom(reader);
    reader.finish();
    return vector;
  }

  /** Writes the body without a version byte, for embedding in other forms. */
  public void writeTo(ByteWriter writer) {
    writer.writeVarInt(counters.size());
    counters.forEach((replica, counter) -> writer.writeString(replica).writeVarLong(counter));
  }

  /** Reads what {@link #writeTo} wrote, refusing unsorted, duplicate or zero entries. */
  public static VersionVector readFrom(ByteReader reader) {
    int count = reader.readCount(Limits.REPLICAS_MAX);
    TreeMap<String, Long> entries = new TreeMap<>();
    String previous = null;
    for (int i = 0; i < count; i++) {
      String replica = reader.readString(Limits.ID_MAX_BYTES);
      long counter = reader.readVarLong();
      if (counter == 0 || (previous != null && previous.compareTo(replica) >= 0)) {
        throw new CorruptEncodingException("VersionVector: non-canonical entry " + replica);
      }
      entries.put(replica, counter);
      previous = replica;
    }
    return new VersionVector(entries);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof VersionVector that && counters.equals(that.counters);
  }

  @Override
  public int hashCode() {
    return counters.hashCode();
  }

  @Override
  public String toString() {
    return counters.toString();
  }
}
