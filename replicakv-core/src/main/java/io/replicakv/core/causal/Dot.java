package io.replicakv.core.causal;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;

/**
 * The identity of one event: the replica that created it and that replica's counter at the time.
 * Dots from one replica are numbered 1, 2, 3... without gaps, which is what lets a {@link
 * VersionVector} stand for a whole set of dots. Ordered by replica id, then counter.
 */
public record Dot(String replicaId, long counter) implements Comparable<Dot> {
  /** Validates the id and that the counter is positive. */
  public Dot {
    Check.notNull(replicaId, "replicaId");
    Check.argument(counter >= 1, "dot counter %s < 1", counter);
  }

  @Override
  public int compareTo(Dot other) {
    int byReplica = replicaId.compareTo(other.replicaId);
    return byReplica != 0 ? byReplica : Long.compare(counter, other.counter);
  }

  /** Writes the dot without a version byte, for embedding. */
  public void writeTo(ByteWriter writer) {
    writer.writeString(replicaId).writeVarLong(counter);
  }

  /** Reads what {@link #writeTo} wrote. */
  public static Dot readFrom(ByteReader reader) {
    String replica = reader.readString(Limits.ID_MAX_BYTES);
    long counter = reader.readVarLong();
    if (counter < 1) {
      throw new CorruptEncodingException("dot counter " + counter + " < 1");
    }
    return new Dot(replica, counter);
  }

  @Override
  public String toString() {
    return replicaId + ":" + counter;
  }
}
