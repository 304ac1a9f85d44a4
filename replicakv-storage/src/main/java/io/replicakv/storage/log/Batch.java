package io.replicakv.storage.log;

import java.nio.ByteBuffer;

/**
 * Encoded records on their way from the caller's buffer to a segment file. Whoever writes advances
 * {@link #data}'s position as bytes reach the file, so a write that failed half-way resumes where
 * it stopped.
 */
final class Batch {
  /** Sent to wake the writer; carries no records. */
  static final Batch WAKE = new Batch(ByteBuffer.allocate(0), 0, -1, false);

  final ByteBuffer data;
  final long firstSequence;
  final long lastSequence;

  /** The first record opens a new segment named {@link #firstSequence}. */
  final boolean startsSegment;

  final int sizeBytes;

  Batch(ByteBuffer data, long firstSequence, long lastSequence, boolean startsSegment) {
    this.data = data;
    this.firstSequence = firstSequence;
    this.lastSequence = lastSequence;
    this.startsSegment = startsSegment;
    this.sizeBytes = data.remaining();
  }
}
