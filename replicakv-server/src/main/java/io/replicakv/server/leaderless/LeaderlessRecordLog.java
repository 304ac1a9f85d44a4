package io.replicakv.server.leaderless;

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
 * The small append-only file that keeps one leaderless keyspace's {@link PersistRecord}s on one
 * node, replayed into {@code LeaderlessNode}'s constructor after a restart.
 *
 * <pre>
 * record = [u32 payload length][u32 CRC32C of the payload][payload]
 * </pre>
 *
 * A separate file rather than the node's {@code StorageEngine} log: that log replays into the
 * single-leader memory state and its snapshots, and every reader of it would have to learn to skip
 * a foreign partition tag; here the leaderless records never meet that replay. On open, the file is
 * read up to the first torn or corrupt record and truncated there: a crash can only tear the last
 * append, and {@code LeaderlessNode} re-does by anti-entropy whatever unsynced state it lost. The
 * service writes without forcing ({@link #write}) and a {@code GroupCommit} forces ({@link #force})
 * before any message or reply that depends on a record the node asked to sync leaves.
 *
 * <p>The same file serves the other replication styles' own record streams: a multi-leader
 * keyspace's site log ({@code SiteService}, {@code data-dir/multi/<ks>.log}) and a single-leader
 * replica group's log ({@code ReplicationLoop}); the format is the same, so one reader and writer.
 *
 * <p>Not done: compaction. The file grows with every persisted key state; a long-lived keyspace
 * needs a rewrite of the latest state per key.
 */
public final class LeaderlessRecordLog
    implements AutoCloseable, io.replicakv.server.durable.GroupCommit.Forceable {
  private static final int HEADER_BYTES = 8;

  private final Path path;
  private final FileChannel channel;
  private List<PersistRecord> recovered;
  private long writtenSequence;

  /** Bytes in the file after the last write (set by the writer, read by the syncer). */
  private volatile long writtenBytes;

  /** Bytes known to be on the device: what the last completed force covered. */
  private volatile long forcedBytes;

  /** Opens (creating) {@code path} and reads back the records that survived. */
  public LeaderlessRecordLog(Path path) {
    this.path = path;
    try {
      Files.createDirectories(path.toAbsolutePath().getParent());
      this.channel =
          FileChannel.open(
              path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      this.recovered = readAndTruncate();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open leaderless log " + path, e);
    }
  }

  /** The records read at open, in order (empty after {@link #forgetRecovered}). */
  public List<PersistRecord> recovered() {
    return recovered;
  }

  /** Lets the records read at open be collected once the caller has rebuilt its state. */
  public void forgetRecovered() {
    recovered = List.of();
  }

  /** Appends {@code records}; forces them to the device when {@code sync} is set. */
  public void append(List<PersistRecord> records, boolean sync) {
    write(records);
    if (sync && !records.isEmpty()) {
      force();
    }
  }

  /**
   * Writes {@code records} to the file without forcing them (group commit: {@link #force} runs
   * later, on another thread, for everything written by then).
   *
   * @return the sequence of the last record written: records written since open, counting these
   */
  public long write(List<PersistRecord> records) {
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
      writtenBytes = channel.position();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to leaderless log " + path, e);
    }
    return writtenSequence;
  }

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
    long covered = writtenBytes;
    try {
      channel.force(false);
      forcedBytes = Math.max(forcedBytes, covered);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot force leaderless log " + path, e);
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
    writtenBytes = position;
    forcedBytes = position;
    return List.copyOf(records);
  }

  private static int crc(byte[] payload) {
    CRC32C crc = new CRC32C();
    crc.update(payload);
    return (int) crc.getValue();
  }

  /**
   * For crash tests: drops every byte no completed {@link #force} covered, as a power loss may,
   * then closes the file. Returns the number of bytes dropped. Call it with no write or force
   * running.
   */
  long closeLosingUnforced() {
    try {
      long dropped = channel.size() - forcedBytes;
      channel.truncate(forcedBytes);
      channel.close();
      return dropped;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot truncate leaderless log " + path, e);
    }
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot close leaderless log " + path, e);
    }
  }

  /** The core's record type of an owned key's state: [2][string key][bytes state]. */
  private static final int RECORD_KEY = 2;

  /** The core's record type of a hint: [3][varint owner][string key][bytes state]. */
  private static final int RECORD_HINT = 3;

  /** The key of a core key-state record, or null for any other record. */
  static String keyOfKeyRecord(PersistRecord record) {
    byte[] payload = record.payload();
    if (payload.length == 0 || (payload[0] & 0xFF) != RECORD_KEY) {
      return null;
    }
    io.replicakv.core.util.ByteReader reader = new io.replicakv.core.util.ByteReader(payload);
    reader.readByte();
    return reader.readString(io.replicakv.core.msg.Operation.KEY_CHARS_MAX * 4);
  }

  /**
   * Rewrites the log at {@code path} so that every key-state record of a key {@code self} does not
   * own under {@code placement} becomes one hint record per owner of the key (other than {@code
   * self}), in place, so that replay merges them in the same order; other records stay as they are.
   * Written to a temporary file, forced, then moved over the log atomically, so a crash leaves
   * either log. Returns the number of records turned into hints (0: the file was not touched).
   *
   * <p>It reads and writes the core's record layouts for key states and hints (types 2 and 3); a
   * change there must change this too.
   */
  static int rehome(Path path, io.replicakv.core.leaderless.Placement placement, int self) {
    if (!Files.exists(path)) {
      return 0;
    }
    List<PersistRecord> records;
    try (LeaderlessRecordLog existing = new LeaderlessRecordLog(path)) {
      records = existing.recovered();
    }
    List<PersistRecord> rewritten = new java.util.ArrayList<>(records.size());
    int rehomed = 0;
    for (PersistRecord record : records) {
      String key = keyOfKeyRecord(record);
      int partition = key == null ? -1 : placement.partitionOf(key);
      if (key == null || placement.owns(self, partition)) {
        rewritten.add(record);
        continue;
      }
      io.replicakv.core.util.ByteReader reader =
          new io.replicakv.core.util.ByteReader(record.payload());
      reader.readByte();
      reader.readString(io.replicakv.core.msg.Operation.KEY_CHARS_MAX * 4);
      byte[] state = reader.readBytes(io.replicakv.core.util.Limits.VALUE_MAX_BYTES);
      reader.finish();
      for (int owner : placement.owners(partition)) {
        rewritten.add(
            new PersistRecord(
                new io.replicakv.core.util.ByteWriter()
                    .writeByte(RECORD_HINT)
                    .writeVarInt(owner)
                    .writeString(key)
                    .writeBytes(state)
                    .toByteArray()));
      }
      rehomed++;
    }
    if (rehomed == 0) {
      return 0;
    }
    Path temporary = path.resolveSibling(path.getFileName() + ".rehome");
    try {
      Files.deleteIfExists(temporary);
      try (LeaderlessRecordLog fresh = new LeaderlessRecordLog(temporary)) {
        fresh.append(rewritten, true);
      }
      Files.move(
          temporary,
          path,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot rewrite leaderless log " + path, e);
    }
    return rehomed;
  }
}
