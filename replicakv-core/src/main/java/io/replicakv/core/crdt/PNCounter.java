package io.replicakv.core.crdt;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import java.util.Objects;

/**
 * A counter that goes up and down: two {@link GCounter}s, one for increments and one for
 * decrements, value = increments - decrements (Shapiro et al. 2011, §3.1.2). This is what {@code
 * INCR}, {@code DECR} and {@code INCRBY} build under {@code conflicts=crdt}: concurrent increments
 * at different sites add up instead of one overwriting the other.
 *
 * <p>Binary form: version byte 1, the increments counter body, the decrements counter body.
 */
public final class PNCounter implements Crdt<PNCounter> {
  /** The counter at zero. */
  public static final PNCounter EMPTY = new PNCounter(GCounter.EMPTY, GCounter.EMPTY);

  private static final int FORMAT_VERSION = 1;

  private final GCounter increments;
  private final GCounter decrements;

  private PNCounter(GCounter increments, GCounter decrements) {
    this.increments = increments;
    this.decrements = decrements;
  }

  /** The counter after {@code replicaId} adds {@code delta}, which may be negative. */
  public PNCounter add(String replicaId, long delta) {
    if (delta >= 0) {
      return new PNCounter(increments.increment(replicaId, delta), decrements);
    }
    // Negating Long.MIN_VALUE overflows; negateExact refuses it instead of adding it.
    return new PNCounter(increments, decrements.increment(replicaId, Math.negateExact(delta)));
  }

  /** Increments minus decrements. */
  public long value() {
    return Math.subtractExact(increments.value(), decrements.value());
  }

  @Override
  public PNCounter merge(PNCounter other) {
    return new PNCounter(increments.merge(other.increments), decrements.merge(other.decrements));
  }

  @Override
  public CrdtType type() {
    return CrdtType.PN_COUNTER;
  }

  @Override
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    increments.writeTo(writer);
    decrements.writeTo(writer);
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static PNCounter fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "PNCounter");
    GCounter increments = GCounter.readFrom(reader);
    GCounter decrements = GCounter.readFrom(reader);
    reader.finish();
    return new PNCounter(increments, decrements);
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof PNCounter that
        && increments.equals(that.increments)
        && decrements.equals(that.decrements);
  }

  @Override
  public int hashCode() {
    return Objects.hash(increments, decrements);
  }

  @Override
  public String toString() {
    return "PNCounter[+" + increments.slots() + " -" + decrements.slots() + "]";
  }
}
