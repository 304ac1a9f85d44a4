package io.replicakv.core.causal;

import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;

/**
 * A dotted version vector (Preguiça, Baquero, Almeida, Fonte, Gonçalves, "Dotted Version Vectors:
 * Logical Clocks for Optimistic Replication", 2010/2012): the clock of one write, made of the dot
 * that names the write itself and the version vector of what the writer had seen before it.
 *
 * <p>A plain version vector incremented by the coordinating server cannot tell two clients writing
 * through the same server apart, so one of them silently overwrites the other (or sibling counts
 * explode when per-client ids are used). Keeping the write's own dot separate from its past fixes
 * that: write A happened before write B exactly when B's past contains A's dot.
 *
 * <p>Binary form: version byte 1, the dot, the past vector.
 */
public record DottedVersionVector(Dot dot, VersionVector past) {
  private static final int FORMAT_VERSION = 1;

  /** Validates that the past does not already contain the dot itself. */
  public DottedVersionVector {
    Check.notNull(dot, "dot");
    Check.notNull(past, "past");
    Check.argument(!past.contains(dot), "past %s already contains own dot %s", past, dot);
  }

  /** The clock of a new write at {@code replicaId} by a client that had seen {@code context}. */
  public static DottedVersionVector forWrite(
      VersionVector context, VersionVector replicaSeen, String replicaId) {
    Dot dot = replicaSeen.merge(context).nextDot(replicaId);
    return new DottedVersionVector(dot, context);
  }

  /** True when the write this clock names happened before the write {@code other} names. */
  public boolean happenedBefore(DottedVersionVector other) {
    return other.past.contains(dot);
  }

  /** How this write relates to {@code other}: BEFORE, AFTER, EQUAL (same dot) or CONCURRENT. */
  public Causality compare(DottedVersionVector other) {
    if (dot.equals(other.dot)) {
      return Causality.EQUAL;
    }
    if (happenedBefore(other)) {
      return Causality.BEFORE;
    }
    return other.happenedBefore(this) ? Causality.AFTER : Causality.CONCURRENT;
  }

  /** Everything this write has seen, itself included. */
  public VersionVector toVersionVector() {
    return past.with(dot);
  }

  /** The binary form described in the class comment. */
  public byte[] toBytes() {
    ByteWriter writer = new ByteWriter().writeByte(FORMAT_VERSION);
    dot.writeTo(writer);
    past.writeTo(writer);
    return writer.toByteArray();
  }

  /** Decodes {@link #toBytes()}. */
  public static DottedVersionVector fromBytes(byte[] bytes) {
    ByteReader reader = ByteReader.open(bytes, FORMAT_VERSION, "DottedVersionVector");
    Dot dot = Dot.readFrom(reader);
    VersionVector past = VersionVector.readFrom(reader);
    reader.finish();
    return new DottedVersionVector(dot, past);
  }
}
