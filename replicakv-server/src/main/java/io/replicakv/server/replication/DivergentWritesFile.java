package io.replicakv.server.replication;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.msg.SingleLeaderMessage;
import io.replicakv.core.util.Check;
import io.replicakv.server.leaderless.LeaderlessRecordLog;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The node's record of divergent writes: every write one of its replicas truncated from its log
 * because the group's new leader never received it (possible with {@code acks=none}), kept apart
 * from the group logs in {@code data-dir/replication/divergent-writes.log} so that it survives what
 * the group logs do not keep: a compaction (which drops truncation records), a replica that starts
 * over with its keys deleted (an old leader that applied writes before they committed), a group
 * re-formed by a ring change, and restarts. LESSONS 2: a loss that cannot be listed afterwards
 * cannot be measured.
 *
 * <p>Each record is one write: keyspace, group, epoch, offset, the time it was found divergent, and
 * its opaque payload (the replicated mutation). Appended and forced when found, before the
 * divergent-writes counter shows it. Bounded: the newest {@link #KEPT_MAX} are kept in memory and
 * on disk; the file is rewritten (temporary file, force, rename) with those once it holds twice as
 * many. The metric counts every divergent write, kept or not.
 */
final class DivergentWritesFile implements AutoCloseable {
  /** Divergent writes listed per node, at most; older ones are dropped from the listing. */
  static final int KEPT_MAX = 100_000;

  /** One divergent write as recorded. */
  record Row(
      int keyspace,
      int group,
      long epoch,
      long offset,
      long foundMillis,
      String key,
      byte[] payload) {
    /** The write as the core's log carried it. */
    io.replicakv.core.msg.Operation.Write write() {
      return new io.replicakv.core.msg.Operation.Write(key, payload);
    }
  }

  private final Path file;
  private LeaderlessRecordLog store;
  private final ArrayDeque<Row> rows = new ArrayDeque<>();
  private long recordsInFile;

  DivergentWritesFile(Path file) {
    this.file = file;
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + file.getParent(), e);
    }
    this.store = new LeaderlessRecordLog(file);
    for (PersistRecord record : store.recovered()) {
      keep(decode(record.payload()));
      recordsInFile++;
    }
  }

  /** Records {@code entries}, truncated from group {@code group} of {@code keyspace}; forced. */
  void record(int keyspace, int group, List<SingleLeaderMessage.Entry> entries, long nowMillis) {
    List<PersistRecord> records = new ArrayList<>();
    for (SingleLeaderMessage.Entry entry : entries) {
      if (!(entry.operation() instanceof io.replicakv.core.msg.Operation.Write write)) {
        continue;
      }
      Row row =
          new Row(
              keyspace,
              group,
              entry.epoch(),
              entry.offset(),
              nowMillis,
              write.key(),
              write.payload());
      keep(row);
      records.add(new PersistRecord(encode(row)));
    }
    if (records.isEmpty()) {
      return;
    }
    store.append(records, true);
    recordsInFile += records.size();
    if (recordsInFile > 2L * KEPT_MAX) {
      List<PersistRecord> kept = new ArrayList<>(rows.size());
      rows.forEach(r -> kept.add(new PersistRecord(encode(r))));
      store = GroupLogFiles.rewrite(file, store, kept);
      recordsInFile = kept.size();
    }
  }

  /** The kept rows, oldest first. */
  List<Row> rows() {
    return List.copyOf(rows);
  }

  private void keep(Row row) {
    rows.addLast(row);
    while (rows.size() > KEPT_MAX) {
      rows.pollFirst();
    }
  }

  static byte[] encode(Row row) {
    ByteArrayOutputStream bytes =
        new ByteArrayOutputStream(64 + row.key().length() + row.payload().length);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeByte(1); // format version
      out.writeInt(row.keyspace());
      out.writeInt(row.group());
      out.writeLong(row.epoch());
      out.writeLong(row.offset());
      out.writeLong(row.foundMillis());
      byte[] key = row.key().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      out.writeInt(key.length);
      out.write(key);
      out.writeInt(row.payload().length);
      out.write(row.payload());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  static Row decode(byte[] bytes) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
      int version = in.readUnsignedByte();
      Check.argument(version == 1, "divergent-write record version %s", version);
      int keyspace = in.readInt();
      int group = in.readInt();
      long epoch = in.readLong();
      long offset = in.readLong();
      long found = in.readLong();
      int keyLength = in.readInt();
      Check.argument(keyLength >= 0 && keyLength <= bytes.length, "key length %s", keyLength);
      String key = new String(in.readNBytes(keyLength), java.nio.charset.StandardCharsets.UTF_8);
      int length = in.readInt();
      Check.argument(length >= 0 && length <= bytes.length, "payload length %s", length);
      byte[] payload = in.readNBytes(length);
      Check.argument(payload.length == length, "payload cut at %s of %s", payload.length, length);
      return new Row(keyspace, group, epoch, offset, found, key, payload);
    } catch (IOException e) {
      throw new IllegalArgumentException("divergent-write record unreadable: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    store.close();
  }
}
