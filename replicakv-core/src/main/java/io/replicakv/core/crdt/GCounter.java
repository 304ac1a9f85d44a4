package io.replicakv.core.crdt;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.Collections;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A grow-only counter: each replica counts its own increments in its own slot, the value is the sum
 * of the slots, and merge takes the larger count per slot (Shapiro et al. 2011, §3.1.1).
 *
 * <p>Only the owning replica ever raises its slot, so the per-slot maximum never loses an
 * increment. Overflow of a slot or of the sum fails loudly ({@link ArithmeticException}) rather
 * than wrapping to a negative count.
 *
 * <p>Binary form: version byte 1, varint slot count, then per slot in replica order the id and the
 * count (varint).
 */
public final class GCounter implements Crdt<GCounter> {
  /** The counter at zero. */
  public static final GCounter EMPTY = new GCounter(new TreeMap<>());

  private static final int FORMAT_VERSION = 1;

  private final SortedMap<String, Long> slots;

  private GCounter(TreeMap<String, Long> slots) {
    this.slots = Collections.unmodifiableSortedMap(slots);
  }

  /** The counter after {@code replicaId} adds {@code amount}, which must not be negative. */
  public GCounter increment(String replicaId, long amount) {
    Check.argument(amount >= 0, "GCounter increment %s < 0", amount);
    Check.notNull(replicaId, "replicaId");
    if (amount == 0) {
      return this;
    }
    TreeMap<String, Long> next = new TreeMap<>(slots);
    next.merge(replicaId, amount, Math::addExact);
    return new GCounter(next);
  }

  /** The sum of all slots. */
  public long value() {
    long sum = 0;
    for (long count : slots.values()) {
      sum = Math.addExact(sum, count);
    }
    return sum;
  }

  /** Each replica's count; unmodifiable. */
  public SortedMap<String, Long> slots() {
    return slots;
  }

  @Override
  public GCounter merge(GCounter other) {
    TreeMap<String, Long> next = new TreeMap<>(slots);
    other.slots.forEach((replica, count) -> next.merge(replica, count, Math::max));
    return new GCounter(next);
  }

  @Override
  public CrdtType type() {
    return CrdtType.G_COUNTER;
  }

  @Override
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    writeTo(writer);
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static GCounter fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "GCounter");
    GCounter counter = readFrom(reader);
    reader.finish();
    return counter;
  }

  void writeTo(ByteWriter writer) {
    writer.writeVarInt(slots.size());
    slots.forEach((replica, count) -> writer.writeString(replica).writeVarLong(count));
  }

  static GCounter readFrom(ByteReader reader) {
    int count = reader.readCount(Limits.REPLICAS_MAX);
    TreeMap<String, Long> slots = new TreeMap<>();
    for (int i = 0; i < count; i++) {
      String replica = reader.readString(Limits.ID_MAX_BYTES);
      long value = reader.readVarLong();
      if (value == 0 || slots.put(replica, value) != null) {
        throw new CorruptEncodingException("GCounter: bad slot " + replica);
      }
    }
    return new GCounter(slots);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof GCounter that && slots.equals(that.slots);
  }

  @Override
  public int hashCode() {
    return slots.hashCode();
  }

  @Override
  public String toString() {
    return "GCounter" + slots;
  }
}
