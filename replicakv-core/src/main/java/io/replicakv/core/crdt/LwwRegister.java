package io.replicakv.core.crdt;

import io.replicakv.core.causal.Hlc;
import io.replicakv.core.model.Bytes;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.Limits;
import java.util.Comparator;
import java.util.Objects;
import java.util.Optional;

/**
 * A last-writer-wins register: the value with the greatest {@link Hlc} timestamp wins, ties broken
 * by the writing replica's id (Shapiro et al. 2011, §3.2.1; DDIA chapter 5, "Last write wins").
 *
 * <p><b>Model.</b> Each assignment carries the writer's HLC timestamp and replica id; merge keeps
 * the larger {@code (timestamp, replicaId)}. A deletion is an assignment of no value (a tombstone),
 * so that a delete and a concurrent write are ordered like two writes. Timestamps come only from
 * {@link io.replicakv.core.causal.HybridLogicalClock}: a write that causally follows another always
 * has the larger timestamp, so LWW never overrules causality.
 *
 * <p><b>Failure cases.</b> Of truly concurrent writes all but one are silently dropped; that is the
 * documented price of {@code conflicts=lww}, and the replicas count each overwrite. Two writes with
 * the same timestamp and replica id cannot come from a correct clock; should they occur, the larger
 * value (unsigned bytes) wins so that merge stays deterministic and commutative.
 *
 * <p>Binary form: version byte 1, timestamp (12 bytes), replica id, presence byte, value bytes.
 */
public final class LwwRegister implements Crdt<LwwRegister> {
  /** The register that was never written. */
  public static final LwwRegister EMPTY = new LwwRegister(Hlc.ZERO, "", null);

  private static final int FORMAT_VERSION = 1;

  private static final Comparator<LwwRegister> ORDER =
      Comparator.comparing((LwwRegister r) -> r.timestamp)
          .thenComparing(r -> r.replicaId)
          .thenComparing(r -> r.value, Comparator.nullsFirst(Comparator.<Bytes>naturalOrder()));

  private final Hlc timestamp;
  private final String replicaId;
  private final Bytes value;

  private LwwRegister(Hlc timestamp, String replicaId, Bytes value) {
    this.timestamp = Check.notNull(timestamp, "timestamp");
    this.replicaId = Check.notNull(replicaId, "replicaId");
    this.value = value;
  }

  /** The register after {@code replicaId} writes {@code value} at {@code timestamp}. */
  public LwwRegister assign(Hlc timestamp, String replicaId, Bytes value) {
    return merge(new LwwRegister(timestamp, replicaId, Check.notNull(value, "value")));
  }

  /** The register after {@code replicaId} deletes the value at {@code timestamp}. */
  public LwwRegister delete(Hlc timestamp, String replicaId) {
    return merge(new LwwRegister(timestamp, replicaId, null));
  }

  /** The winning value, empty if never written or deleted last. */
  public Optional<Bytes> value() {
    return Optional.ofNullable(value);
  }

  /** The winning write's timestamp. */
  public Hlc timestamp() {
    return timestamp;
  }

  /** The winning write's replica. */
  public String replicaId() {
    return replicaId;
  }

  @Override
  public LwwRegister merge(LwwRegister other) {
    return ORDER.compare(this, other) >= 0 ? this : other;
  }

  @Override
  public CrdtType type() {
    return CrdtType.LWW_REGISTER;
  }

  @Override
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    timestamp.writeTo(writer);
    writer.writeString(replicaId).writeBoolean(value != null);
    if (value != null) {
      writer.writeBytes(value.toByteArray());
    }
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static LwwRegister fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "LwwRegister");
    Hlc timestamp = Hlc.readFrom(reader);
    String replica = reader.readString(Limits.ID_MAX_BYTES);
    Bytes value = reader.readBoolean() ? Bytes.of(reader.readBytes(Limits.VALUE_MAX_BYTES)) : null;
    reader.finish();
    return new LwwRegister(timestamp, replica, value);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof LwwRegister that
        && timestamp.equals(that.timestamp)
        && replicaId.equals(that.replicaId)
        && Objects.equals(value, that.value);
  }

  @Override
  public int hashCode() {
    return Objects.hash(timestamp, replicaId, value);
  }

  @Override
  public String toString() {
    return "LwwRegister[" + value + " @" + timestamp + " by " + replicaId + "]";
  }
}
