package io.replicakv.server.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.util.Check;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The append-only file that keeps one multi-leader keyspace's site records ({@code SiteRecord}:
 * every applied change with its path, every link's applied position, lock state) on this node,
 * replayed into {@code SiteReplica}'s constructor after a restart: the site log and the resume
 * position of each incoming link after a break.
 *
 * <pre>
 * record = [u32 payload length][u32 CRC32C of the payload][payload]
 * </pre>
 *
 * A separate file from the node's {@code StorageEngine} log, for the reason the leaderless
 * keyspaces give: that log replays into the single-leader memory state. On open the file is read up
 * to the first torn or corrupt record and truncated there; {@code SiteReplica} asks for every
 * record to be synced before any message or reply leaves, so only an unacknowledged tail can be
 * lost, and the upstream site resends it from the durable position.
 *
 * <p>Not done: compaction. The file keeps every change ever applied (the core replays them all at
 * start); a long-lived keyspace needs a snapshot of the key states plus the positions.
 */
final class SiteRecordLog
    implements AutoCloseable, io.replicakv.server.durable.GroupCommit.Forceable {
  private static final int HEADER_BYTES = 8;

  private final Path path;
  private final FileChannel channel;
  private final List<PersistRecord> recovered;
  private long writtenSequence;

  /** Opens (creating) {@code path} and reads back the records that survived. */
  SiteRecordLog(Path path) {
    this.path = path;
    try {
      Files.createDirectories(path.toAbsolutePath().getParent());
      this.channel =
          FileChannel.open(
              path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      this.recovered = readAndTruncate();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open site log " + path, e);
    }
  }

  /** The records read at open, in order. */
  List<PersistRecord> recovered() {
    return recovered;
  }

  /**
   * Writes {@code records} to the file without forcing them (group commit: {@link #force} runs
   * later, on another thread, for everything written by then).
   *
   * @return the sequence of the last record written: records written since open, counting these
   */
  long write(List<PersistRecord> records) {
    try {
      for (PersistRecord record : records) {
        byte[] payload = record.payload();
        ByteBuffer buffer = ByteBuffer.allocate(HEADER_BYTES + payload.length);
        buffer.putInt(payload.length).putInt(crc(payload)).put(payload).flip();
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
        writtenSequence++;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to site log " + path, e);
    }
    return writtenSequence;
  }

  /** Records written since open (see {@link #write}); read it on the writing thread. */
  @Override
  public long writtenSequence() {
    return writtenSequence;
  }

  /**
   * Forces every record written before this call to the device. Safe to call from a thread other
   * than the writer's: a write that completed before the call is covered, a concurrent one may not
   * be (its caller waits for the next force).
   */
  @Override
  public void force() {
    try {
      channel.force(false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot force site log " + path, e);
    }
  }

  private List<PersistRecord> readAndTruncate() throws IOException {
    List<PersistRecord> records = new ArrayList<>();
    long size = channel.size();
    long position = 0;
    ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES);
    while (position + HEADER_BYTES <= size) {
      header.clear();
      channel.read(header, position);
      header.flip();
      int length = header.getInt();
      int expectedCrc = header.getInt();
      if (length < 0
          || length > PersistRecord.PAYLOAD_BYTES_MAX
          || position + HEADER_BYTES + length > size) {
        break;
      }
      ByteBuffer payload = ByteBuffer.allocate(length);
      channel.read(payload, position + HEADER_BYTES);
      if (crc(payload.array()) != expectedCrc) {
        break;
      }
      records.add(new PersistRecord(payload.array()));
      position += HEADER_BYTES + length;
    }
    if (position < size) {
      channel.truncate(position);
      channel.force(true);
    }
    channel.position(position);
    Check.state(channel.position() == channel.size(), "log %s not at its end after open", path);
    return List.copyOf(records);
  }

  private static int crc(byte[] payload) {
    CRC32C crc = new CRC32C();
    crc.update(payload);
    return (int) crc.getValue();
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close site log " + path, e);
    }
  }
}
