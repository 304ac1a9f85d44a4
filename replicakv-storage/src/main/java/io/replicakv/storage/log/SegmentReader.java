package io.replicakv.storage.log;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads one segment front to back, validating the header and every record's bounds and checksum. It
 * never throws for bad bytes: {@link #next()} returns null and {@link #problem()} says what was
 * wrong at {@link #position()}, so recovery can cut there and replay can refuse.
 */
final class SegmentReader implements AutoCloseable {
  private static final int READ_BUFFER_BYTES = 256 << 10;

  private final Path path;
  private final FileChannel channel;
  private final InputStream input;
  private final long fileSizeBytes;
  private final byte[] recordHeader = new byte[LogFormat.RECORD_OVERHEAD_BYTES];
  private long position;
  private String problem;

  private SegmentReader(Path path, FileChannel channel) throws IOException {
    this.path = path;
    this.channel = channel;
    this.fileSizeBytes = channel.size();
    this.input = new BufferedInputStream(Channels.newInputStream(channel), READ_BUFFER_BYTES);
  }

  static SegmentReader open(Path path) throws IOException {
    return new SegmentReader(path, FileChannel.open(path, StandardOpenOption.READ));
  }

  Path path() {
    return path;
  }

  long fileSizeBytes() {
    return fileSizeBytes;
  }

  /** Offset of the next unread byte; after a problem, the offset of the bad header or record. */
  long position() {
    return position;
  }

  /** Why reading stopped early, or null after a clean end of file. */
  String problem() {
    return problem;
  }

  /** Reads and checks the segment header; false (with {@link #problem()}) when it is invalid. */
  boolean readHeader(long expectedFirstSequence) throws IOException {
    byte[] header = new byte[LogFormat.HEADER_BYTES];
    int read = input.readNBytes(header, 0, header.length);
    if (read < header.length) {
      problem = "torn segment header (" + read + " of " + header.length + " bytes)";
      return false;
    }
    problem = LogFormat.checkHeader(header, expectedFirstSequence);
    if (problem != null) {
      return false;
    }
    position = LogFormat.HEADER_BYTES;
    return true;
  }

  /** The next valid record, or null at a clean end of file or at the first invalid byte. */
  LogRecord next() throws IOException {
    if (problem != null) {
      return null;
    }
    int read = input.readNBytes(recordHeader, 0, recordHeader.length);
    if (read == 0) {
      return null;
    }
    if (read < recordHeader.length) {
      problem = "torn record header (" + read + " of " + recordHeader.length + " bytes)";
      return null;
    }
    ByteBuffer fields = ByteBuffer.wrap(recordHeader);
    int length = fields.getInt();
    int storedCrc = fields.getInt();
    long sequence = fields.getLong();
    int partition = fields.getInt();
    long payloadLength = Integer.toUnsignedLong(length) - LogFormat.LENGTH_FIXED_BYTES;
    if (payloadLength < 0 || payloadLength > LogFormat.PAYLOAD_MAX_BYTES) {
      problem = "invalid record length " + Integer.toUnsignedLong(length);
      return null;
    }
    long end = position + LogFormat.RECORD_OVERHEAD_BYTES + payloadLength;
    if (end > fileSizeBytes) {
      problem =
          "torn record (needs " + (end - position) + " bytes, file ends at " + fileSizeBytes + ")";
      return null;
    }
    byte[] payload = input.readNBytes((int) payloadLength);
    if (payload.length < payloadLength) {
      problem = "torn record payload";
      return null;
    }
    if (LogFormat.checksum(sequence, partition, payload) != storedCrc) {
      problem = "record checksum mismatch";
      return null;
    }
    LogRecord record = new LogRecord(sequence, partition, payload, position);
    position = end;
    return record;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
