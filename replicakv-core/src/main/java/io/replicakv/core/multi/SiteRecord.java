package io.replicakv.core.multi;

import io.replicakv.core.PersistRecord;
import io.replicakv.core.causal.VersionVector;
import io.replicakv.core.util.ByteReader;
import io.replicakv.core.util.ByteWriter;
import io.replicakv.core.util.Check;
import io.replicakv.core.util.CorruptEncodingException;
import io.replicakv.core.util.Limits;
import java.util.ArrayList;
import java.util.List;

/**
 * What a site persists: each change it applies, in apply order (which is also its outgoing log
 * order, so positions survive a restart), and its position in each upstream site's log.
 *
 * <p>Binary form: version byte 1, kind byte (1 applied, 2 link position), then the body: for
 * applied, the change and its path (varint count, site ids); for a link position, the upstream site
 * id and the applied-through position (varint).
 */
public sealed interface SiteRecord {
  /** Key states one {@link KeyStates} record carries at most. */
  int KEY_STATES_PER_RECORD_MAX = 4_096;

  /** Longest key accepted when decoding, in UTF-8 bytes. */
  int KEY_BYTES_MAX = 4 * io.replicakv.core.msg.Operation.KEY_CHARS_MAX;

  /** A change applied here, local or received, with the sites it passed (this one last). */
  record Applied(Change change, List<String> path) implements SiteRecord {
    public Applied {
      Check.notNull(change, "change");
      path = List.copyOf(path);
    }
  }

  /** Everything up to {@code appliedThrough} of {@code upstream}'s log is applied here. */
  record LinkPosition(String upstream, long appliedThrough) implements SiteRecord {
    public LinkPosition {
      Check.notNull(upstream, "upstream");
      Check.argument(appliedThrough >= 0, "appliedThrough %s < 0", appliedThrough);
    }
  }

  /** Lock site: {@code holder} holds the lock on {@code key} under {@code fencingToken}. */
  record LockGranted(String key, String holder, long fencingToken) implements SiteRecord {}

  /** Lock site: the lock on {@code key} under {@code fencingToken} is free; what was written. */
  record LockFreed(String key, long fencingToken, VersionVector written) implements SiteRecord {}

  /**
   * Holder: the release of {@code fencingToken} must reach {@code lockSite}; resend until acked.
   */
  record ReleasePending(String key, String lockSite, long fencingToken, VersionVector written)
      implements SiteRecord {}

  /** Holder: the lock site acknowledged the release of {@code fencingToken}. */
  record ReleaseDone(String key, long fencingToken) implements SiteRecord {}

  /**
   * Key states staged for the record that follows them: a {@link CatchUpJoined} joins them into the
   * state, a {@link Checkpoint} makes them the state. Staged records with no such record after them
   * (a crash while writing them) are ignored.
   */
  record KeyStates(List<KeyState.Entry> entries) implements SiteRecord {
    public KeyStates {
      entries = List.copyOf(entries);
    }
  }

  /**
   * The staged key states are another site's state at {@code position} of its log, with {@code
   * applied} applied: joined into this site's state, and this site's position in {@code upstream}'s
   * log is {@code position} from now on.
   */
  record CatchUpJoined(String upstream, long position, VersionVector applied)
      implements SiteRecord {
    public CatchUpJoined {
      Check.notNull(upstream, "upstream");
      Check.argument(position >= 0, "position %s < 0", position);
      Check.notNull(applied, "applied");
    }
  }

  /**
   * A log entry kept through a compaction: part of the log (downstream sites may still need it) but
   * already in the checkpoint's state, so recovery does not apply it again.
   */
  record Retained(Change change, List<String> path) implements SiteRecord {
    public Retained {
      Check.notNull(change, "change");
      path = List.copyOf(path);
    }
  }

  /**
   * The head of a compacted site log: the staged key states are the whole state, {@code applied}
   * the site's version vector, the log ends at {@code logEnd} and the {@link Retained} records
   * before this one are its last entries; {@code upstreamPositions} are the positions in each
   * upstream site's log, {@code newest} the newest HLC timestamp seen.
   */
  record Checkpoint(
      long logEnd,
      VersionVector applied,
      io.replicakv.core.causal.Hlc newest,
      java.util.SortedMap<String, Long> upstreamPositions)
      implements SiteRecord {
    public Checkpoint {
      Check.argument(logEnd >= 0, "logEnd %s < 0", logEnd);
      Check.notNull(applied, "applied");
      Check.notNull(newest, "newest");
      upstreamPositions =
          java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(upstreamPositions));
    }
  }

  /**
   * A forwarder joined a catch-up and owes each of {@code downstream} a catch-up of its own (what
   * it learnt is in no log it streams); the newest such record holds, until each is sent.
   */
  record CatchUpsOwed(List<String> downstream) implements SiteRecord {
    public CatchUpsOwed {
      downstream = List.copyOf(downstream);
    }
  }

  /** Whether {@code record} is one of the lock protocol's (kept as they are by a compaction). */
  static boolean isLockRecord(PersistRecord record) {
    byte[] payload = record.payload();
    return payload.length >= 2 && payload[1] >= 3 && payload[1] <= 6;
  }

  /** The durable form. */
  default PersistRecord toRecord() {
    ByteWriter writer = new ByteWriter().writeByte(1);
    switch (this) {
      case Applied applied -> {
        writer.writeByte(1);
        applied.change().writeTo(writer);
        writer.writeVarInt(applied.path().size());
        applied.path().forEach(writer::writeString);
      }
      case LinkPosition position ->
          writer
              .writeByte(2)
              .writeString(position.upstream())
              .writeVarLong(position.appliedThrough());
      case LockGranted granted ->
          writer
              .writeByte(3)
              .writeString(granted.key())
              .writeString(granted.holder())
              .writeVarLong(granted.fencingToken());
      case LockFreed freed -> {
        writer.writeByte(4).writeString(freed.key()).writeVarLong(freed.fencingToken());
        freed.written().writeTo(writer);
      }
      case ReleasePending pending -> {
        writer.writeByte(5).writeString(pending.key()).writeString(pending.lockSite());
        writer.writeVarLong(pending.fencingToken());
        pending.written().writeTo(writer);
      }
      case ReleaseDone done ->
          writer.writeByte(6).writeString(done.key()).writeVarLong(done.fencingToken());
      case KeyStates states -> {
        writer.writeByte(7).writeVarInt(states.entries().size());
        for (KeyState.Entry entry : states.entries()) {
          writer.writeString(entry.key());
          entry.state().writeTo(writer);
        }
      }
      case CatchUpJoined joined -> {
        writer.writeByte(8).writeString(joined.upstream()).writeVarLong(joined.position());
        joined.applied().writeTo(writer);
      }
      case Retained retained -> {
        writer.writeByte(9);
        retained.change().writeTo(writer);
        writer.writeVarInt(retained.path().size());
        retained.path().forEach(writer::writeString);
      }
      case Checkpoint checkpoint -> {
        writer.writeByte(10).writeVarLong(checkpoint.logEnd());
        checkpoint.applied().writeTo(writer);
        checkpoint.newest().writeTo(writer);
        writer.writeVarInt(checkpoint.upstreamPositions().size());
        checkpoint
            .upstreamPositions()
            .forEach((site, position) -> writer.writeString(site).writeVarLong(position));
      }
      case CatchUpsOwed owed -> {
        writer.writeByte(11).writeVarInt(owed.downstream().size());
        owed.downstream().forEach(writer::writeString);
      }
    }
    return new PersistRecord(writer.toByteArray());
  }

  /** Decodes {@link #toRecord()}. */
  static SiteRecord fromRecord(PersistRecord record) {
    ByteReader reader = ByteReader.open(record.payload(), 1, "SiteRecord");
    int kind = reader.readByte();
    SiteRecord result =
        switch (kind) {
          case 1 -> {
            Change change = Change.readFrom(reader);
            int count = reader.readCount(Limits.REPLICAS_MAX);
            List<String> path = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
              path.add(reader.readString(Limits.ID_MAX_BYTES));
            }
            yield new Applied(change, path);
          }
          case 2 -> new LinkPosition(reader.readString(Limits.ID_MAX_BYTES), reader.readVarLong());
          case 3 ->
              new LockGranted(
                  reader.readString(KEY_BYTES_MAX),
                  reader.readString(Limits.ID_MAX_BYTES),
                  reader.readVarLong());
          case 4 ->
              new LockFreed(
                  reader.readString(KEY_BYTES_MAX),
                  reader.readVarLong(),
                  VersionVector.readFrom(reader));
          case 5 ->
              new ReleasePending(
                  reader.readString(KEY_BYTES_MAX),
                  reader.readString(Limits.ID_MAX_BYTES),
                  reader.readVarLong(),
                  VersionVector.readFrom(reader));
          case 6 -> new ReleaseDone(reader.readString(KEY_BYTES_MAX), reader.readVarLong());
          case 7 -> {
            int count = reader.readCount(KEY_STATES_PER_RECORD_MAX);
            List<KeyState.Entry> entries = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
              entries.add(
                  new KeyState.Entry(reader.readString(KEY_BYTES_MAX), KeyState.readFrom(reader)));
            }
            yield new KeyStates(entries);
          }
          case 8 ->
              new CatchUpJoined(
                  reader.readString(Limits.ID_MAX_BYTES),
                  reader.readVarLong(),
                  VersionVector.readFrom(reader));
          case 9 -> {
            Change change = Change.readFrom(reader);
            int count = reader.readCount(Limits.REPLICAS_MAX);
            List<String> path = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
              path.add(reader.readString(Limits.ID_MAX_BYTES));
            }
            yield new Retained(change, path);
          }
          case 10 -> {
            long logEnd = reader.readVarLong();
            VersionVector applied = VersionVector.readFrom(reader);
            io.replicakv.core.causal.Hlc newest = io.replicakv.core.causal.Hlc.readFrom(reader);
            int count = reader.readCount(Limits.REPLICAS_MAX);
            java.util.TreeMap<String, Long> positions = new java.util.TreeMap<>();
            for (int i = 0; i < count; i++) {
              positions.put(reader.readString(Limits.ID_MAX_BYTES), reader.readVarLong());
            }
            yield new Checkpoint(logEnd, applied, newest, positions);
          }
          case 11 -> {
            int count = reader.readCount(Limits.REPLICAS_MAX);
            List<String> owed = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
              owed.add(reader.readString(Limits.ID_MAX_BYTES));
            }
            yield new CatchUpsOwed(owed);
          }
          default -> throw new CorruptEncodingException("unknown site record kind " + kind);
        };
    reader.finish();
    return result;
  }
}
