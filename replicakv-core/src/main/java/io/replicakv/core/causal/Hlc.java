package io.replicakv.core.causal;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;

/**
 * One hybrid logical clock timestamp: physical milliseconds since the epoch and a logical counter
 * that orders events within one millisecond. Ordered by physical time, then counter. Produced by
 * {@link HybridLogicalClock}; this record only carries and compares values.
 *
 * <p>Binary form (13 bytes): version byte 1, physical milliseconds as a big-endian long, logical
 * counter as a big-endian int.
 */
public record Hlc(long physicalMillis, int logical) implements Comparable<Hlc> {
  /** The smallest timestamp, before every real event. */
  public static final Hlc ZERO = new Hlc(0, 0);

  private static final int FORMAT_VERSION = 1;

  /** Validates that both parts are non-negative. */
  public Hlc {
    Check.argument(physicalMillis >= 0, "physicalMillis %s < 0", physicalMillis);
    Check.argument(logical >= 0, "logical %s < 0", logical);
  }

  @Override
  public int compareTo(Hlc other) {
    int byPhysical = Long.compare(physicalMillis, other.physicalMillis);
    return byPhysical != 0 ? byPhysical : Integer.compare(logical, other.logical);
  }

  /** True when this timestamp orders strictly after {@code other}. */
  public boolean isAfter(Hlc other) {
    return compareTo(other) > 0;
  }

  /** The later of two timestamps. */
  public static Hlc max(Hlc a, Hlc b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    writeTo(writer);
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static Hlc fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "Hlc");
    Hlc hlc = readFrom(reader);
    reader.finish();
    return hlc;
  }

  /** Writes the fixed-width body without a version byte, for embedding in other forms. */
  public void writeTo(ByteWriter writer) {
    writer.writeLong(physicalMillis).writeInt(logical);
  }

  /** Reads what {@link #writeTo} wrote. */
  public static Hlc readFrom(ByteReader reader) {
    long physical = reader.readLong();
    int logical = reader.readInt();
    if (physical < 0 || logical < 0) {
      throw new CorruptEncodingException("Hlc: negative part " + physical + "/" + logical);
    }
    return new Hlc(physical, logical);
  }

  @Override
  public String toString() {
    return physicalMillis + "." + logical;
  }
}
