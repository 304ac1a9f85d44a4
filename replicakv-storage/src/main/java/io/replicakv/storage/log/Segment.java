package io.replicakv.storage.log;

import java.nio.file.Path;

/** One segment file: its first sequence (also its name) and how many bytes it holds so far. */
final class Segment {
  final long firstSequence;
  final Path path;
  private volatile long sizeBytes;

  Segment(long firstSequence, Path path, long sizeBytes) {
    this.firstSequence = firstSequence;
    this.path = path;
    this.sizeBytes = sizeBytes;
  }

  long sizeBytes() {
    return sizeBytes;
  }

  /** Written only by the thread that writes the log (or recovery before it starts). */
  void setSizeBytes(long bytes) {
    sizeBytes = bytes;
  }

  @Override
  public String toString() {
    return path.getFileName().toString();
  }
}
