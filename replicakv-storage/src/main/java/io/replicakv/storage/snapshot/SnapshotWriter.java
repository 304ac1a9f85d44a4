package io.replicakv.storage.snapshot;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one snapshot (format in {@link SnapshotFormat}) to a temporary file; {@link #finish()}
 * writes the trailer, fsyncs the file, renames it into place atomically and fsyncs the directory.
 * Closing an unfinished writer deletes the temporary file. Used from one thread.
 */
public final class SnapshotWriter implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotWriter.class);

  private static final int WRITE_BUFFER_BYTES = 256 << 10;

  private final Path directory;
  private final Path temp;
  private final long lastIncludedSequence;
  private final long createdMillis;
  private final FileChannel channel;
  private final CRC32C fileCrc = new CRC32C();
  private final CRC32C entryCrc = new CRC32C();
  private final BufferedOutputStream buffered;
  private final DataOutputStream out;
  private long entryCount;
  private boolean finished;
  private boolean closed;

  private SnapshotWriter(Path directory, long lastIncludedSequence, long createdMillis)
      throws IOException {
    this.directory = directory;
    this.lastIncludedSequence = lastIncludedSequence;
    this.createdMillis = createdMillis;
    this.temp =
        Files.createTempFile(
            directory, String.format("%020d.", lastIncludedSequence), SnapshotFormat.TEMP_SUFFIX);
    this.channel = FileChannel.open(temp, StandardOpenOption.WRITE);
    this.buffered = new BufferedOutputStream(Channels.newOutputStream(channel), WRITE_BUFFER_BYTES);
    this.out = new DataOutputStream(new CheckedOutputStream(buffered, fileCrc));
    out.writeInt(SnapshotFormat.MAGIC);
    out.write(new byte[] {SnapshotFormat.VERSION, 0, 0, 0});
    out.writeLong(lastIncludedSequence);
    out.writeLong(createdMillis);
  }

  /**
   * Starts a snapshot in {@code directory} (created if missing) that will contain every log record
   * up to {@code lastIncludedSequence}.
   */
  public static SnapshotWriter create(Path directory, long lastIncludedSequence, long createdMillis)
      throws IOException {
    if (lastIncludedSequence < 0) {
      throw new IllegalArgumentException("negative lastIncludedSequence " + lastIncludedSequence);
    }
    Files.createDirectories(directory);
    return new SnapshotWriter(directory, lastIncludedSequence, createdMillis);
  }

  /** Appends one opaque entry (buffered). */
  public void append(byte[] entry) throws IOException {
    Objects.requireNonNull(entry, "entry");
    if (finished || closed) {
      throw new IllegalStateException("snapshot writer is finished or closed");
    }
    if (entry.length > SnapshotFormat.ENTRY_MAX_BYTES) {
      throw new IllegalArgumentException(
          "entry of " + entry.length + " bytes exceeds " + SnapshotFormat.ENTRY_MAX_BYTES);
    }
    entryCrc.reset();
    entryCrc.update(entry, 0, entry.length);
    out.writeInt(entry.length);
    out.writeInt((int) entryCrc.getValue());
    out.write(entry);
    entryCount++;
  }

  /** Seals, fsyncs and publishes the snapshot under its final name. */
  public SnapshotInfo finish() throws IOException {
    if (finished || closed) {
      throw new IllegalStateException("snapshot writer is finished or closed");
    }
    out.writeInt(SnapshotFormat.END_MARKER);
    out.writeLong(entryCount);
    out.flush();
    // The file checksum is written past the checksummed stream, so it does not cover itself.
    int crc = (int) fileCrc.getValue();
    buffered.write(
        new byte[] {(byte) (crc >>> 24), (byte) (crc >>> 16), (byte) (crc >>> 8), (byte) crc});
    buffered.flush();
    channel.force(true);
    long sizeBytes = channel.size();
    channel.close();
    Path target = directory.resolve(SnapshotFormat.fileName(lastIncludedSequence));
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(directory, StandardOpenOption.READ)) {
      dir.force(true);
    }
    finished = true;
    LOG.info(
        "snapshot {} written: {} entries, {} bytes, last included sequence {}",
        target,
        entryCount,
        sizeBytes,
        lastIncludedSequence);
    return new SnapshotInfo(target, lastIncludedSequence, entryCount, sizeBytes, createdMillis);
  }

  /** Aborts an unfinished snapshot: closes and deletes the temporary file. Idempotent. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (finished) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      LOG.warn("closing snapshot temp file {} failed: {}", temp, e.toString());
    }
    try {
      Files.deleteIfExists(temp);
    } catch (IOException e) {
      LOG.warn("deleting snapshot temp file {} failed: {}", temp, e.toString());
    }
  }
}
