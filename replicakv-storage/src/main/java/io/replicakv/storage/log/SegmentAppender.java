package io.replicakv.storage.log;

import io.replicakv.core.util.Check;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * Writes encoded {@link Batch}es to the active segment file and creates the next segment when a
 * batch starts one. It is used by exactly one thread at a time: the writer thread under {@link
 * FsyncPolicy#ALWAYS}, the caller thread (inside {@link SegmentedLog#flush()}) otherwise.
 *
 * <p>A rolled segment is never closed here: it goes to {@link Retirement}, which decides whether it
 * is fsynced and closed by the writer thread (so that an fsync running concurrently on the writer
 * never meets a closed channel) or closed at once. The old segment is retired before the new one is
 * published through {@link #channel()}, so a thread that reads {@link #channel()} and then drains
 * the retired segments sees every file that holds records written before it looked.
 */
final class SegmentAppender {
  /** Takes over a rolled segment's channel. */
  interface Retirement {
    void retire(Segment segment, FileChannel channel);
  }

  private final Path directory;
  private final LogDisk disk;
  private final SegmentSet segments;
  private final Retirement retirement;
  private final Runnable onCreate;

  // the writing thread
  private Segment active;
  private long activeOffset;

  /** Read by the writer thread to fsync the active segment while another thread writes it. */
  private volatile FileChannel activeChannel;

  private volatile long bytesWritten;

  /**
   * Opens the recovered active segment (if any) for writing and forces what a crashed predecessor
   * left in the page cache, before anything is built on it.
   */
  SegmentAppender(
      Path directory, LogDisk disk, SegmentSet segments, Retirement retirement, Runnable onCreate)
      throws IOException {
    this.directory = directory;
    this.disk = disk;
    this.segments = segments;
    this.retirement = retirement;
    this.onCreate = onCreate;
    var recovered = segments.snapshot();
    if (!recovered.isEmpty()) {
      active = recovered.getLast();
      FileChannel channel = disk.openForWrite(active.path, false);
      activeOffset = active.sizeBytes();
      disk.force(channel);
      activeChannel = channel;
    }
  }

  /**
   * Writes the rest of {@code batch}, rolling first when it opens a segment. On failure the batch's
   * position marks how far it got, so calling again resumes at that byte.
   */
  void write(Batch batch) throws IOException {
    if (batch.startsSegment && (active == null || active.firstSequence != batch.firstSequence)) {
      roll(batch.firstSequence);
    }
    Check.state(active != null, "no active segment for batch at %s", batch.firstSequence);
    FileChannel channel = activeChannel;
    while (batch.data.hasRemaining()) {
      int written = disk.write(channel, batch.data, activeOffset);
      activeOffset += written;
      bytesWritten += written;
    }
    active.setSizeBytes(activeOffset);
  }

  /** Retires the active segment and creates the next; a failed creation is retried from here. */
  private void roll(long firstSequence) throws IOException {
    if (active != null) {
      FileChannel old = activeChannel;
      activeChannel = null;
      Segment retired = active;
      active = null;
      retirement.retire(retired, old);
    }
    Path path = directory.resolve(LogFormat.fileName(firstSequence));
    FileChannel channel = disk.openForWrite(path, true);
    try {
      var header = LogFormat.header(firstSequence);
      long offset = 0;
      while (header.hasRemaining()) {
        offset += disk.write(channel, header, offset);
      }
      bytesWritten += LogFormat.HEADER_BYTES;
    } catch (IOException e) {
      channel.close();
      throw e;
    }
    activeOffset = LogFormat.HEADER_BYTES;
    active = new Segment(firstSequence, path, activeOffset);
    segments.add(active);
    onCreate.run();
    activeChannel = channel;
  }

  /** The active segment's channel, or null before the first segment exists. */
  FileChannel channel() {
    return activeChannel;
  }

  long bytesWritten() {
    return bytesWritten;
  }

  /** The active segment, for log messages. */
  Segment active() {
    return active;
  }

  /** Closes the active segment's channel; only once nobody writes or fsyncs any more. */
  void close() throws IOException {
    FileChannel channel = activeChannel;
    activeChannel = null;
    if (channel != null) {
      channel.close();
    }
  }
}
